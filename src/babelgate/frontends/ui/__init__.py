"""The dashboard at `/ui` (docs/dashboard.md): a single page built from `ui/` at the repository's
root (`make ui`) into `assets/`, shipped inside the package so that `pip install` needs no Node.js.
It is a client of the admin API (docs/decisions.md, "The dashboard and the CLI are admin API clients"), which checks who
may see what; this folder only serves the files."""
