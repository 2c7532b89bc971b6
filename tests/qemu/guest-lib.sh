# Helpers for the guest scripts, which run-guest puts in the initramfs as
# /etc/gpuop-guest/lib.sh; source it with `. /etc/gpuop-guest/lib.sh`. busybox sh, and the
# scripts run with -e: every function here returns 0 unless it says otherwise.

gpuop_failed=0

pass() { echo "GPUOP-CHECK ok $*"; }
fail() { echo "GPUOP-CHECK FAIL $*"; gpuop_failed=1; }

# check <what> <command> [args...]: runs the command and reports ok or FAIL; goes on either way,
# so that one run shows every failing check.
check() {
  what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# checks_done: the summary line; returns 1 if any check failed (the script's exit status).
checks_done() {
  if [ "$gpuop_failed" = 0 ]; then
    echo "GPUOP-CHECK all passed"
  else
    echo "GPUOP-CHECK some checks FAILED"
  fi
  return "$gpuop_failed"
}

# pci_find <vendor> <device>: the address (0000:00:03.0) of the first PCI device with these IDs
# (as sysfs writes them: 0x1234 0x11e8), or nothing.
pci_find() {
  for d in /sys/bus/pci/devices/*; do
    if [ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ]; then
      echo "${d##*/}"
      return 0
    fi
  done
}

# pci_driver <bdf>: the name of the driver bound to the device, or "none".
pci_driver() {
  if [ -e "/sys/bus/pci/devices/$1/driver" ]; then
    basename "$(readlink "/sys/bus/pci/devices/$1/driver")"
  else
    echo none
  fi
}

# pci_group <bdf>: the number of the device's IOMMU group, or "none".
pci_group() {
  if [ -e "/sys/bus/pci/devices/$1/iommu_group" ]; then
    basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"
  else
    echo none
  fi
}

# pci_state: one line per PCI device: address, IDs, driver, driver_override, IOMMU group.
# Compare two of them to see whether anything changed.
pci_state() {
  for d in /sys/bus/pci/devices/*; do
    b=${d##*/}
    echo "$b $(cat "$d/vendor"):$(cat "$d/device") driver=$(pci_driver "$b")" \
      "override=$(cat "$d/driver_override" 2>/dev/null || echo -) group=$(pci_group "$b")"
  done
}

# find_emulated_devices: sets edu, nic and testdev to the addresses of run-guest's emulated
# devices (QEMU's edu 1234:11e8, the e1000e NIC 8086:10d3, pci-testdev 1b36:0005) and group to
# edu's IOMMU group, checking the state every guest script starts from.
find_emulated_devices() {
  edu=$(pci_find 0x1234 0x11e8)
  nic=$(pci_find 0x8086 0x10d3)
  testdev=$(pci_find 0x1b36 0x0005)
  check "edu device present ($edu)" [ -n "$edu" ]
  check "e1000e device present ($nic)" [ -n "$nic" ]
  check "e1000e device on e1000e at the start" driver_is "$nic" e1000e
  group=$(pci_group "$edu")
  check "edu device in an IOMMU group ($group)" [ "$group" != none ]
}

# driver_is <bdf> <driver>: whether readlink of the device's driver link ends in /<driver>.
driver_is() {
  case "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" in
    */"$2") return 0 ;;
    *) return 1 ;;
  esac
}
