// Command-line flags for the examples, the same on Node, Deno and Bun.
import process from "node:process";

/** Parses `--name value` and `--flag` arguments. */
export function parseArgs<const Names extends string>(defaults: Record<Names, string>): Record<Names, string> & Record<string, string> {
  const out: Record<string, string> = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) continue;
    const [name, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
    const next = argv[i + 1];
    if (inline !== undefined) out[name] = inline;
    else if (next !== undefined && !next.startsWith("--")) out[name] = argv[++i]!;
    else out[name] = "true";
  }
  return out as Record<Names, string> & Record<string, string>;
}
