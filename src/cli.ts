import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { basesCommand, type BasesOptions } from './commands/bases.js';
import { benchCommand, type BenchCommandOptions } from './commands/bench.js';
import { BENCH_DEFAULTS, TARGETS } from './bench/plan.js';
import { chaosCommand, type ChaosCommandOptions } from './commands/chaos.js';
import { FAULTS } from './chaos/faults.js';
import { bumpCommand, type BumpOptions } from './commands/bump.js';
import { EXIT_UNREACHABLE } from './bump/check.js';
import { buildCommand, type BuildCommandOptions } from './commands/build.js';
import { publishCommand, type PublishOptions } from './commands/publish.js';
import { sbomCommand, type SbomOptions } from './commands/sbom.js';
import { clusterDoctorCommand, clusterDownCommand, clusterStatusCommand, clusterUpCommand, type ClusterDownOptions, type ClusterOptions, type ClusterStatusOptions, type ClusterUpOptions } from './commands/cluster.js';
import { generateCommand, type GenerateOptions } from './commands/generate.js';
import { sourcesCommand, type SourcesOptions } from './commands/sources.js';
import { validateCommand, type ValidateOptions } from './commands/validate.js';
import { errorReport, exitCodeOf } from './errors.js';

// The CLI only wires the commands (src/commands/) to their options; every error they throw
// ends up in the one catch below, which prints it and exits with the code it carries.

const PROJECT_ROOT = resolve(import.meta.dirname, '..');

function manifestOption(): Option {
  // No default value here: loadProject takes versions.json from the project root when none is given.
  return new Option('--manifest <file>', 'version manifest (default: "versions.json")');
}

function withCommon(cmd: Command): Command {
  return cmd
    .addOption(manifestOption())
    .addOption(new Option('--cluster <file>', 'cluster definition (default: cluster.yaml when present, else built-in defaults)'));
}

function withCluster(cmd: Command): Command {
  return withCommon(cmd).option('--dir <dir>', 'the cluster\'s deploy directory (default: deploy/<cluster name>)');
}

const { version } = JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };

// Usage errors (an unknown command or option, a missing argument) are one line from
// commander and exit 2, as configuration errors do; exitOverride is inherited by every
// command defined below it.
const program = new Command()
  .name('pgha')
  .description('Version-locked build contexts for a highly available PostgreSQL + Pgpool-II cluster')
  .version(version)
  .exitOverride();

withCommon(program.command('validate'))
  .description('check the manifest and the cluster definition; print every problem, one line each')
  .option('--json', 'print the verdict as JSON: {ok, problems: [{source, where, message}], warnings, ...}')
  .action((opts: ValidateOptions) => {
    process.exitCode = validateCommand(PROJECT_ROOT, opts);
  });

withCommon(program.command('generate'))
  .description('render images/, deploy/ and docs/reference/ from the manifest and cluster definition')
  .option('--out <dir>', 'render images/ and deploy/ under this directory instead of the project tree')
  .option('--check', 'write nothing; exit 1 when the committed files differ from a fresh render')
  .action((opts: GenerateOptions) => {
    process.exitCode = generateCommand(PROJECT_ROOT, opts);
  });

program
  .command('sources')
  .description('fetch the pgpool tarball into the source cache and verify its sha256')
  .addOption(manifestOption())
  .option('--into-contexts', 'also copy it into every build context under images/, for plain `docker build`')
  .action((opts: SourcesOptions) => sourcesCommand(PROJECT_ROOT, opts));

program
  .command('bases')
  .description('build the offline stand-ins for the upstream base images (debootstrapped Debian, Debian postgresql)')
  .addOption(manifestOption())
  .option('--rebuild', 'rebuild them even when present')
  .action((opts: BasesOptions) => basesCommand(PROJECT_ROOT, opts));

program
  .command('build')
  .description('build the images through the Docker engine (upstream bases, else the offline stand-ins)')
  .addOption(manifestOption())
  .option('--offline', 'build against the offline stand-in bases without trying to pull')
  .option('--no-fallback', 'fail when an upstream base cannot be pulled, instead of using the stand-ins')
  .option('--only <names...>', 'build only these images (postgres/bookworm, pgpool/bookworm, pgpool/alpine)')
  .option('--no-cache', 'do not reuse cached layers')
  .option('--regenerate', 'write a fresh render of images/ first, instead of refusing when images/ differs from one')
  .option('--json', 'print the results as JSON on stdout (progress on stderr)')
  .action((opts: BuildCommandOptions) => buildCommand(PROJECT_ROOT, opts));

program
  .command('bump')
  .description('move pinned versions (pgpool, postgres, alpine) with their sha256, patch checks, parameter table, generated files and changelog entry')
  .argument('[pairs...]', '"<component> <version>" pairs: pgpool 4.7.3 postgres 15.20 alpine 3.23.4')
  .addOption(manifestOption())
  .option('--dry-run', 'check everything and print the change; write nothing')
  .option('--allow-major', 'allow a PostgreSQL major version change (prints the data directory upgrade to plan)')
  .option('--allow-downgrade', 'allow moving a component to an older version')
  .option('--check', `list the newest release of each pinned line and where it looked; write nothing (exit ${EXIT_UNREACHABLE} when a source cannot be read)`)
  .option('--latest', 'bump every component to the newest release of its pinned line (as --check finds them)')
  .option('--json', 'with --check: print the findings as JSON')
  .addOption(new Option('--date <yyyy-mm-dd>', 'date of the changelog entry (default: today, UTC)').argParser((v) => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new InvalidArgumentError('expected a date like 2026-11-22');
    return v;
  }))
  .action(async (pairs: string[], opts: BumpOptions) => {
    process.exitCode = await bumpCommand(PROJECT_ROOT, pairs, opts);
  });

withCommon(program.command('publish'))
  .description('push every image built here to a registry under every tag of the scheme (docs/releases.md); print each image\'s tags and digest')
  .requiredOption('--registry <host[:port]>', 'the registry, as an image reference names it (127.0.0.1:5000, ghcr.io)')
  .option('--tag-suffix <suffix>', 'append "-<suffix>" to every tag pushed (e.g. rc1), so no unsuffixed tag moves')
  .option('--allow-dirty', 'publish from a tree with uncommitted changes, or images built from another commit')
  .option('--json', 'print [{image, ref, repository, tags, digest, reference}] as JSON')
  .action((opts: PublishOptions) => publishCommand(PROJECT_ROOT, opts));

program
  .command('sbom')
  .description('write a CycloneDX 1.5 SBOM of every image built here, read from the image (OS packages, pgpool and its patches)')
  .addOption(manifestOption())
  .option('--out <dir>', 'where to write <image>.cdx.json (default: results/sbom)')
  .action((opts: SbomOptions) => sbomCommand(PROJECT_ROOT, opts));

const clusterCmd = program.command('cluster').description('run the dev cluster: up, down, status, doctor');

withCluster(clusterCmd.command('up'))
  .description('create secrets and SSH keys when missing, start the cluster with compose, wait until it is ready')
  .option('--wait <seconds>', 'how long to wait for the cluster to become ready', '240')
  .option('--build', 'first build the cluster\'s images that the engine does not have (as pgha build --only would)')
  .option('--registry <host[:port]>', 'engine: swarm: the registry pgha publish pushed the images to; the stack pins them there by digest')
  .action((opts: ClusterUpOptions) => clusterUpCommand(PROJECT_ROOT, opts));

withCluster(clusterCmd.command('down'))
  .description('stop and remove the cluster\'s containers and network (data volumes stay unless --volumes)')
  .option('--volumes', 'also remove the data volumes')
  .action((opts: ClusterDownOptions) => clusterDownCommand(PROJECT_ROOT, opts));

withCluster(clusterCmd.command('status'))
  .description('backends (id, host, status, role, lag) and the watchdog (leader, VIP holder), as a table')
  .option('--json', 'print JSON for scripts')
  .action(async (opts: ClusterStatusOptions) => {
    process.exitCode = await clusterStatusCommand(PROJECT_ROOT, opts);
  });

withCluster(clusterCmd.command('doctor'))
  .description('check SSH, sudo, pcp, pool_passwd, backends and the VIP from inside the cluster; exit 1 on any failure')
  .option('--json', 'print the checks as JSON: {ok, failed, checks: [{name, ok, detail}]}')
  .action(async (opts: ClusterOptions & { json?: boolean }) => {
    process.exitCode = await clusterDoctorCommand(PROJECT_ROOT, opts);
  });

withCluster(program.command('chaos'))
  .description('inject faults into a running cluster while a probe writes and reads through the delegate IP (a swarm: every pgpool node in order); report what clients saw')
  .option('--fault <name...>', `faults to inject, each for --rounds rounds: ${FAULTS.join(', ')}; or random: the nemesis (--seed, --duration)`, ['kill-primary'])
  .option('--rounds <n>', 'rounds per fault; the cluster must heal between rounds', '1')
  .option('--interval-ms <ms>', 'time between two probe ticks (a write and a read) per client kind', '100')
  .option('--timeout-ms <ms>', 'bound on each probe connect and statement', '2000')
  .option('--warmup <seconds>', 'steady probing before each fault', '5')
  .option('--hold <seconds>', 'pause-primary, pause-standby, isolate-primary: how long the node stays frozen or cut off', '20')
  .option('--down <seconds>', 'restart-old-primary, host-kill*: how long the old primary (or host) stays down once writes are back', '10')
  .option('--host-off <command>', "host-kill*: the command that powers a host off, {host} its name in cluster.yaml (run here, no shell), as 'virsh destroy {host}'")
  .option('--host-on <command>', "host-kill*: the command that powers it on again, as 'virsh start {host}'")
  .option('--host-cut <command>', 'host-partition: the command that cuts a host off from the other hosts, {host} its name (run here, no shell)')
  .option('--host-heal <command>', 'host-partition: the command that heals the cut')
  .option('--connect <host:port,...>', 'where the probe connects, in order (default: the delegate IP; a swarm: each pgpool node\'s published port at its host\'s Docker context address)')
  .option('--heal-timeout <seconds>', 'how long to wait for the cluster to heal after a fault', '180')
  .option('--seed <n>', 'random: the seed of the schedule (drawn and printed when not given; the same seed draws the same schedule)')
  .option('--duration <time>', 'random: how long to inject faults, as 90s, 10m or 1h (default 10m)')
  .option('--heal-limit <seconds>', 'random: the healed check fails when an episode takes longer than this to heal (default 60, the target)')
  .option('--results <dir>', 'where to record the run (bench/RESULTS.md is rewritten beside it)', resolve(PROJECT_ROOT, 'bench/results'))
  .option('--no-results', 'record nothing')
  .option('--json', 'print the record as JSON on stdout (progress on stderr)')
  .action(async (opts: ChaosCommandOptions) => {
    process.exitCode = await chaosCommand(PROJECT_ROOT, opts);
  });

withCluster(program.command('bench'))
  .description('what each proxy costs: pgbench direct, through pgpool (generated and sample configs), pgbouncer and HAProxy, each in its own container, TLS matched hop for hop (npm run bench); --soak: load without faults, counting false alarms')
  .option('--series <s...>', 'tls (every hop encrypted, verified against the cluster CA) and/or plain (none)', [...BENCH_DEFAULTS.series])
  .option('--targets <t...>', `targets among ${TARGETS.join(', ')}; direct always runs (every ratio is to it)`, [...BENCH_DEFAULTS.targets])
  .option('--modes <m...>', 'pgbench built-in scripts: select-only and/or tpcb-like', [...BENCH_DEFAULTS.modes])
  .option('--rounds <n>', 'rounds; every target runs once per round, in a rotating order', String(BENCH_DEFAULTS.rounds))
  .option('--duration <seconds>', 'duration of each pgbench run', String(BENCH_DEFAULTS.seconds))
  .option('--clients <n...>', 'client counts', BENCH_DEFAULTS.clients.map(String))
  .option('--scale <n>', 'pgbench scale of the bench database, at least the largest client count (default: that count)')
  .option('--plan', 'print the plan (order per round, pgbench arguments, planned duration) and start nothing')
  .option('--soak <seconds>', 'instead: pgbench tpcb-like through the delegate IP for this long, then count failovers, VIP moves and failed health checks')
  .option('--results <dir>', 'where to record the run (bench/RESULTS.md is rewritten beside it)', resolve(PROJECT_ROOT, 'bench/results'))
  .option('--no-results', 'record nothing')
  .option('--json', 'print the record as JSON on stdout (progress on stderr)')
  .action(async (opts: BenchCommandOptions) => {
    process.exitCode = await benchCommand(PROJECT_ROOT, opts);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander has printed its line (or the help, or the version) already.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    console.error(errorReport(err));
    process.exitCode = exitCodeOf(err);
  }
}
