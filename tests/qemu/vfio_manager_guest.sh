# Guest script (run-guest --script): `gpuop vfio-manager` against a real kernel. It must bind
# every PCI device of vendor 0x1234 (here only the emulated edu device, 1234:11e8) to vfio-pci,
# leave every other device alone (the e1000e NIC stays on e1000e), and be idempotent. Then
# `gpuop doctor --json` must run and report.
. /etc/gpuop-guest/lib.sh

echo "PCI devices before:"
pci_state

find_emulated_devices

echo "+ gpuop vfio-manager --host-root / --vendor 1234 --once"
rc=0
gpuop vfio-manager --host-root / --vendor 1234 --once || rc=$?
check "vfio-manager --once exits 0 (exit $rc)" [ "$rc" = 0 ]

echo "readlink /sys/bus/pci/devices/$edu/driver: $(readlink "/sys/bus/pci/devices/$edu/driver")"
check "edu device on vfio-pci" driver_is "$edu" vfio-pci
check "/dev/vfio/$group exists" [ -c "/dev/vfio/$group" ]
check "e1000e device still on e1000e (untouched)" driver_is "$nic" e1000e
check "pci-testdev (vendor 1b36) untouched (no driver)" [ "$(pci_driver "$testdev")" = none ]

echo "PCI devices after:"
before=$(pci_state)
echo "$before"

# Idempotent: a second run succeeds and changes nothing, on any device.
echo "+ gpuop vfio-manager --host-root / --vendor 1234 --once (again)"
rc=0
gpuop vfio-manager --host-root / --vendor 1234 --once || rc=$?
check "second vfio-manager --once exits 0 (exit $rc)" [ "$rc" = 0 ]
after=$(pci_state)
check "second vfio-manager --once changes nothing" [ "$before" = "$after" ]
check "edu device still on vfio-pci" driver_is "$edu" vfio-pci
if [ "$before" != "$after" ]; then
  echo "PCI devices after the second run:"
  echo "$after"
fi

# The long-running agent, as in its pod: serves /readyz and /metrics while the device is on
# vfio, and with --unbind-on-exit gives back, on SIGTERM, what an *earlier process* bound (the
# --once runs above, through the state file under /run/gpuop): the edu device had no driver.
check "the state file names the edu device" grep -q "$edu" /run/gpuop/vfio-manager/previous-drivers.json
ip link set lo up
echo "+ gpuop vfio-manager --host-root / --vendor 1234 --unbind-on-exit --metrics-address 127.0.0.1:8080 &"
gpuop vfio-manager --host-root / --vendor 1234 --unbind-on-exit --metrics-address 127.0.0.1:8080 &
agent=$!
ready=""
for _ in $(seq 1 50); do
  if ready=$(wget -q -O - http://127.0.0.1:8080/readyz 2>/dev/null); then break; fi
  sleep 0.2
done
check "/readyz answers ok while the device is on vfio ($ready)" [ "$ready" = ok ]
metrics=$(wget -q -O - http://127.0.0.1:8080/metrics || true)
echo "$metrics" | grep "^gpuop_vfio_manager" || true
check "/metrics says ready" sh -c "echo '$metrics' | grep -qx 'gpuop_vfio_manager_ready 1'"
kill -TERM "$agent"
rc=0
wait "$agent" || rc=$?
check "the agent exits 0 on SIGTERM (exit $rc)" [ "$rc" = 0 ]
check "edu device back to no driver" [ "$(pci_driver "$edu")" = none ]
check "its driver_override cleared" [ "$(cat "/sys/bus/pci/devices/$edu/driver_override")" = "(null)" ]
check "the state file is gone" [ ! -e /run/gpuop/vfio-manager/previous-drivers.json ]
check "e1000e device still on e1000e" driver_is "$nic" e1000e

# doctor reports (exit 0: all good, 1: problems found); whatever it finds, it must not fail
# otherwise and must print JSON.
echo "+ gpuop doctor --json"
rc=0
out=$(gpuop doctor --json) || rc=$?
echo "$out" | head -n 60
check "doctor --json exits 0 or 1 (exit $rc)" [ "$rc" = 0 -o "$rc" = 1 ]
case "$out" in
  "{"*) pass "doctor --json prints a JSON object" ;;
  *) fail "doctor --json prints a JSON object (output starts with '$(echo "$out" | head -c 20)')" ;;
esac

checks_done
