mod snapshot_placeholder {}
