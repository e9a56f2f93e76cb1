/**
 * Maintainer tool: prints the pgpool.conf parameter table of one pgpool source tree,
 * read from its src/config/pool_config_variables.c, as JSON for data/pgpool-params/: the
 * names, the deprecated aliases and each parameter's kind (which `pgha validate` checks
 * pgpool.settings values against).
 *
 *   tsx scripts/extract-pgpool-params.ts <pool_config_variables.c> <release> > data/pgpool-params/<minor>.json
 *
 * Run it on the newest release of a minor when adding that minor to the table (`pgha bump`
 * writes the table of the release it moves to by itself).
 */
import { readFileSync } from 'node:fs';
import { extractKinds, extractParams } from '../src/pgpool/extract.js';
import { paramTableFile } from '../src/pgpool/params.js';

const [file, release] = process.argv.slice(2);
if (!file || !release) {
  console.error('usage: extract-pgpool-params.ts <pool_config_variables.c> <release, e.g. 4.7.2>');
  process.exit(2);
}
const source = readFileSync(file, 'utf8');
process.stdout.write(paramTableFile(release, { ...extractParams(source), kinds: extractKinds(source) }));
