"""Reading finished runs and sweeps side by side: `ls` (the catalog) and `compare`."""
