"""The typer command layer: parse, call one library function, print."""
