import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../src/errors.js';
import { parseConf } from '../../src/pgpool/conf.js';
import { render } from '../../src/render/render.js';
import { parseCluster } from '../../src/cluster/load.js';
import { projectInput } from '../helpers.js';

describe('render', () => {
  const input = projectInput();
  const out = render(input);

  it('is deterministic: two renders are byte-identical', () => {
    const again = render(projectInput());
    expect([...again.entries()]).toEqual([...out.entries()]);
  });

  it('renders the three build contexts and the dev cluster', () => {
    const dirs = new Set([...out.keys()].map((p) => p.split('/').slice(0, 3).join('/')));
    expect([...dirs].sort()).toEqual(['deploy/pgha/.env', 'deploy/pgha/docker-compose.yml', 'deploy/pgha/pgpool', 'images/pgpool/alpine', 'images/pgpool/bookworm', 'images/postgres/bookworm', 'images/standin/postgres']);
    for (const ctx of ['images/pgpool/alpine', 'images/pgpool/bookworm', 'images/postgres/bookworm']) {
      expect(out.has(`${ctx}/Dockerfile`)).toBe(true);
      expect(out.get(`${ctx}/patches/series`)).toContain('watchdog-ping-rtt\t0001-watchdog-ping-rtt.patch\tsrc/watchdog/wd_ping.c');
    }
  });

  it('marks every file it can as generated, naming its template or, for a verbatim copy, its source, in the first lines', () => {
    for (const [path, content] of out) {
      const head = content.split('\n').slice(0, 3).join('\n');
      expect(head, path).toMatch(/generated (from|by)|copy of patches\/|placed by pgha|^# source: shell\/\S+ of pgha, copied verbatim/m);
    }
  });

  it('pins the manifest versions in the Dockerfiles', () => {
    expect(out.get('images/postgres/bookworm/Dockerfile')).toContain('ARG POSTGRES_BASE=postgres:15.17-bookworm');
    expect(out.get('images/pgpool/alpine/Dockerfile')).toContain('ARG POSTGRES_ALPINE_BASE=postgres:15.17-alpine3.23');
    expect(out.get('images/pgpool/alpine/Dockerfile')).toContain('ARG ALPINE_BASE=alpine:3.23.3');
    for (const ctx of ['images/pgpool/alpine', 'images/pgpool/bookworm', 'images/postgres/bookworm']) {
      expect(out.get(`${ctx}/Dockerfile`)).toContain('echo "e72b9d0ff3620f7da7e33a58dda44b77919d056752dc9bd86b2985c4988d1938  pgpool-II-4.7.2.tar.gz" | sha256sum -c -');
    }
    expect(out.get('images/pgpool/alpine/Dockerfile')).toContain('--with-openssl');
  });

  it('writes no secret into any file', () => {
    for (const [path, content] of out) {
      expect(content, path).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
      for (const { key, value } of /(pgpool|cluster)\.conf$/.test(path) ? parseConf(content) : []) {
        if (/password|authkey/.test(key)) expect(value, `${path} ${key}`).toBe('');
      }
    }
    const compose = parseYaml(out.get('deploy/pgha/docker-compose.yml')!);
    for (const [name, svc] of Object.entries<any>(compose.services)) {
      for (const [k, v] of Object.entries<string>(svc.environment)) {
        if (/PASSWORD|AUTHKEY|KEY$/.test(k)) expect(`${name} ${k}=${v}`).toMatch(/_FILE=\/(run\/secrets|etc\/pgha\/metrics)\//);
      }
    }
    // The secrets come from the deploy directory's secrets/, bound as a directory (compose v2
    // creates every container before the init service runs: a file `secrets:` entry whose file
    // does not exist yet fails the create), never written into the compose file.
    expect(compose.secrets).toBeUndefined();
    for (const [name, svc] of Object.entries<any>(compose.services)) {
      // A metrics service gets metrics/ (the init service's copy of the pgpool password) instead.
      if (name.endsWith('-metrics')) expect(svc.volumes, name).toEqual(['./metrics:/etc/pgha/metrics:ro']);
      else if (name !== 'init') expect(svc.volumes, name).toContain('./secrets:/run/secrets:ro');
      expect(svc.secrets, name).toBeUndefined();
    }
  });

  it('gives the compose network an explicit subnet and no top-level version', () => {
    const compose = parseYaml(out.get('deploy/pgha/docker-compose.yml')!);
    expect(compose.version).toBeUndefined();
    expect(compose.networks.pgha.ipam.config).toEqual([{ subnet: '172.30.0.0/24', gateway: '172.30.0.1' }]);
    expect(Object.keys(compose.services)).toEqual(['init', 'pg0', 'pg1', 'pgpool0', 'pgpool1', 'pgpool2', 'pgpool0-metrics', 'pgpool1-metrics', 'pgpool2-metrics']);
    expect(compose.services.pg1.environment.PGHA_ROLE).toBe('standby');
  });

  it('renders the cluster topology and overrides into cluster.conf, checked per key', () => {
    const cluster = parseCluster('postgres:\n  nodes: 3\npgpool:\n  settings:\n    num_init_children: 16\n    log_min_messages: debug1\n', 'c.yaml', input.manifest);
    const conf = render({ ...input, cluster }).get('deploy/pgha/pgpool/cluster.conf')!;
    const keys = Object.fromEntries(parseConf(conf).map((e) => [e.key, e.value]));
    expect(keys.backend_hostname2).toBe('pg2');
    expect(keys.hostname2).toBe('pgpool2');
    expect(keys.delegate_ip).toBe('172.30.0.100');
    expect(keys.use_watchdog).toBe('on');
    expect(keys.num_init_children).toBe('16');
    expect(keys.log_min_messages).toBe('debug1');
  });

  it('fails, naming file, line, key and replacement, when a template uses a renamed key', () => {
    const templates = { ...input.templates };
    templates['pgpool/pgpool.conf.hbs'] += "logdir = '/tmp'\nsocket_dir = '/tmp'\n";
    let error: unknown;
    try {
      render({ ...input, templates });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as ConfigError).problems.map((p) => `${p.where}: ${p.message}`);
    expect(lines).toHaveLength(4); // two keys, two pgpool variants
    expect(lines[0]).toMatch(/^images\/pgpool\/alpine\/pgpool\.conf:\d+ logdir: pgpool 4\.7\.2 accepts logdir only as a deprecated alias: use work_dir \(renamed in 4\.7\)$/);
    expect(lines[1]).toMatch(/^images\/pgpool\/alpine\/pgpool\.conf:\d+ socket_dir: pgpool 4\.7\.2 does not know socket_dir: renamed to unix_socket_directories in 4\.4$/);
  });

  it('refuses a cluster definition name with a line break, which would start a line of its own in cluster.conf and the compose file', () => {
    for (const clusterSource of ['c.yaml\nuse_watchdog = off', 'c.yaml\rx: 1']) {
      expect(() => render({ ...input, clusterSource })).toThrow(/expected a cluster definition name without line breaks or other control characters/);
    }
  });

  it('refuses a template line that sets a key twice in pgpool.conf or a key the overrides did not intend in cluster.conf', () => {
    const templates = { ...input.templates };
    templates['pgpool/pgpool.conf.hbs'] += 'port = 1234\n';
    templates['deploy/cluster.conf.hbs'] += "{{#if overrides.length}}x = 'y' use_watchdog = off\n{{/if}}";
    const cluster = parseCluster('pgpool:\n  settings:\n    num_init_children: 16\n', 'c.yaml', input.manifest);
    let error: unknown;
    try {
      render({ ...input, templates, cluster });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as ConfigError).problems.map((p) => `${p.where}: ${p.message}`);
    expect(lines).toEqual([
      expect.stringMatching(/^deploy\/pgha\/pgpool\/cluster\.conf:\d+ x: pgpool would read x = "y" where pgha meant nothing$/),
      expect.stringMatching(/^images\/pgpool\/alpine\/pgpool\.conf:\d+ port: set again \(first at line \d+\); pgpool would take the later value$/),
      expect.stringMatching(/^images\/pgpool\/bookworm\/pgpool\.conf:\d+ port: set again/),
    ]);
  });
});
