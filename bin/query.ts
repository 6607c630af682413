// `npm run query -- [--archive DIR] [--json] NAME|"SQL"` or `--list`. See --help and local/query/README.md.
import { runQueryCli } from "../local/query/cli.ts";

process.exitCode = await runQueryCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
});
