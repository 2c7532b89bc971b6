# Guest script (run-guest --script): proves the harness, with nothing of gpuop but --version.
# Binds the edu device (1234:11e8) to vfio-pci by hand through sysfs, the way
# `gpuop vfio-manager` is to do it, and asserts the facts vfio_manager_guest.sh asserts.
. /etc/gpuop-guest/lib.sh

echo "PCI devices:"
pci_state

version=$(gpuop --version)
echo "gpuop --version: $version"
check "gpuop runs in the guest (--version)" [ "${version#gpuop }" != "$version" ]

check "vfio-pci driver registered" [ -d /sys/bus/pci/drivers/vfio-pci ]
# The initramfs has a modules.dep, so modprobe works as on a node (here: a no-op).
check "modprobe vfio-pci works" modprobe vfio-pci
check "/dev/vfio/vfio exists" [ -c /dev/vfio/vfio ]

find_emulated_devices

# The bind: driver_override makes vfio-pci the only driver that may take the device (and keeps
# it so across rebinds); drivers_probe asks the kernel to attach it now.
bind_vfio() {
  if [ -e "/sys/bus/pci/devices/$1/driver" ] && ! driver_is "$1" vfio-pci; then
    echo "$1" >"/sys/bus/pci/devices/$1/driver/unbind"
  fi
  echo vfio-pci >"/sys/bus/pci/devices/$1/driver_override"
  echo "$1" >/sys/bus/pci/drivers_probe
}
bind_vfio "$edu"
echo "readlink /sys/bus/pci/devices/$edu/driver: $(readlink "/sys/bus/pci/devices/$edu/driver")"
check "edu device on vfio-pci" driver_is "$edu" vfio-pci
check "/dev/vfio/$group exists" [ -c "/dev/vfio/$group" ]
check "e1000e device still on e1000e" driver_is "$nic" e1000e
check "pci-testdev untouched (no driver)" [ "$(pci_driver "$testdev")" = none ]

# Binding again must succeed and change nothing.
before=$(pci_state)
rc=0
bind_vfio "$edu" || rc=$?
check "second bind succeeds (exit $rc)" [ "$rc" = 0 ]
after=$(pci_state)
check "second bind changes nothing" [ "$before" = "$after" ]
check "edu device still on vfio-pci" driver_is "$edu" vfio-pci

echo "ls -l /dev/vfio:"
ls -l /dev/vfio
checks_done
