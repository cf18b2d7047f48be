"""The VM-test harness behind vmtests/harness.py (scripts/vmtests, scripts/demo) and
vmtests/bench.py (scripts/vm-bench), one module per concern:

- common: repository paths, boot markers, the canary, the base command line, log and run
- scenarios: scenario.toml loading and linting, the flavours, the pending list
- templates: @HTTP@ and hash tokens in scenario files and check strings
- httpd: the loopback HTTP fixture server that records requests
- images: initrd archives, the skip overlay, the tiny OS root disks, the kernel
- qemu: one VM's command line and the KVM-or-TCG probe
- diskread: disk images read on the host (sgdisk, mdadm, debugfs)
- checks: the result checks a scenario lists
- boot: running one scenario from fixtures to checks
- selftest: every checker shown able to pass and fail on host-made images
- demo: the report of what a demo boot left on the disks
- cli: the command line, the builds, the parallel boots and the summary
"""
