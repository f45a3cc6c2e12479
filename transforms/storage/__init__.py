"""Files and their integrity: fsspec I/O, Arrow IPC files and their schemas, checked local copies, rows by
position, the output lock, a run's layout, file versions and the versions of what each stage writes."""
