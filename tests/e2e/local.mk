# tests/e2e: real libvirtd + QEMU end-to-end suite (filled in by its own work)
