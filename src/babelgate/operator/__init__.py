"""The operator's CLI (`babelgate chat`, `models`, `keys`, `usage`; docs/cli.md): clients of a
running gateway over HTTP, its OpenAI route and its admin API (docs/decisions.md, "The dashboard and the CLI are admin
API clients": what the CLI does, a script can do with the same routes). Tables and live output are drawn with `rich`;
`--json` prints the API's answer for scripts."""
