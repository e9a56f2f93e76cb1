import { describe, expect, it } from 'vitest';
import { parseCluster } from '../../src/cluster/load.js';
import { ConfigError } from '../../src/errors.js';
import { confLine, formatValue, managedBy, parseConf, readBack, TIMING_KEYS } from '../../src/pgpool/conf.js';
import { render } from '../../src/render/render.js';
import { projectInput } from '../helpers.js';

const pairs = (text: string) => parseConf(text).map((e) => [e.key, e.value]);

describe("pgpool.conf as pgpool's lexer reads it (src/config/pool_config.l)", () => {
  it('reads keys, optional =, and one value token; strings lose their quotes and nothing else', () => {
    expect(pairs("# comment\nport = 9999\nlisten_addresses '*'\nweight = 0.5\nflag = on # trailing\ns = 'a\\b'\n")).toEqual([
      ['port', '9999'],
      ['listen_addresses', '*'],
      ['weight', '0.5'],
      ['flag', 'on'],
      ['s', 'a\\b'],
    ]);
  });

  it('needs no line break between two settings, as pgpool does', () => {
    expect(pairs("a = 'x' use_watchdog = off\n")).toEqual([
      ['a', 'x'],
      ['use_watchdog', 'off'],
    ]);
  });

  it("takes \\' as part of a string and keeps the backslash; '' is two strings", () => {
    expect(pairs("a = 'it\\'s'\n")).toEqual([['a', "it\\'s"]]);
    // pgha <= this change wrote a quote as '': pgpool reads the string 'it' and then stops at 's'.
    expect(() => parseConf("a = 'it''s'\n")).toThrow(/line 1: pgpool expects a parameter name here/);
  });

  it('ends a string at a line break: what follows is read as keys, and any token is a value', () => {
    // pgpool takes whatever token follows a key as its value (even a lone quote or a line break).
    expect(pairs("a = 'x\ny = 'z\n")).toEqual([
      ['a', "'"],
      ['x', '\n'],
      ['y', "'"],
      ['z', '\n'],
    ]);
  });

  it('refuses a comment without a line break after it, and a stray character', () => {
    expect(() => parseConf('a = 1 # no newline')).toThrow(/line 1/);
    expect(() => parseConf('a = 1\n!\n')).toThrow(/line 2/);
  });
});

describe('writing pgpool.conf values', () => {
  it('writes booleans as on/off, numbers bare unless they need an exponent, strings quoted', () => {
    expect(formatValue(true)).toBe('on');
    expect(formatValue(false)).toBe('off');
    expect(formatValue(16)).toBe('16');
    expect(formatValue(-1)).toBe('-1');
    expect(formatValue(0.5)).toBe('0.5');
    expect(formatValue(1e30)).toBe("'1e+30'");
    expect(formatValue('debug1')).toBe("'debug1'");
  });

  it("escapes a quote as \\' and nothing else; refuses line breaks and control characters", () => {
    expect(formatValue("it's")).toBe("'it\\'s'");
    expect(formatValue('C:\\dir\\')).toBe("'C:\\dir\\'");
    expect(confLine('wd_authkey', "a'b\\")).toBe("wd_authkey = 'a\\'b\\'");
    for (const bad of ['a\nb', 'a\rb', 'a\tb', 'a\u0000b', 'a\u2028b', 'a\u007fb']) {
      expect(() => formatValue(bad), JSON.stringify(bad)).toThrow(/expected a single line without control characters/);
    }
    expect(() => confLine('a = 1\nb', 1)).toThrow(/expected a parameter name/);
  });

  it.each([
    ["it's"],
    ["\\'"],
    ["\\\\'"],
    ['ends with a backslash\\'],
    ["x\\' use_watchdog = 'off"],
    ["' backend_hostname0 = 'evil"],
    ["\\' wd_authkey = '"],
    ['# not a comment'],
    ['   spaces   '],
    [''],
    ['ünïcödé'],
  ])('writes %j as one line that pgpool reads as exactly that key and one value', (value) => {
    const line = confLine('log_line_prefix', value);
    expect(line).not.toMatch(/\n/);
    const entries = parseConf(`${line}\n`);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.key).toBe('log_line_prefix');
    // pgpool keeps every character between the quotes: the value with each ' as \'.
    expect(entries[0]!.value).toBe(value.replace(/'/g, "\\'"));
    expect(readBack(value)).toBe(entries[0]!.value);
  });
});

describe('hostile pgpool.settings values', () => {
  const input = projectInput();
  const lines = (err: unknown) => (err instanceof ConfigError ? err.problems.map((p) => `${p.where}: ${p.message}`) : [String(err)]);
  const refused = (yaml: string) => {
    try {
      parseCluster(yaml, 'c.yaml', input.manifest);
    } catch (err) {
      return lines(err);
    }
    return [];
  };

  it('are refused by validate, one line each naming the key', () => {
    expect(refused('pgpool:\n  settings:\n    log_line_prefix: "it\'s"\n')).toEqual([
      'pgpool.settings.log_line_prefix: pgpool 4.7.2 keeps the backslash of an escaped quote (\\\') in log_line_prefix, so its value cannot hold a quote: got "it\'s"',
    ]);
    expect(refused('pgpool:\n  settings:\n    syslog_ident: "x\\\\\'\\nbackend_hostname0 = \'evil\'"\n')).toEqual([
      'pgpool.settings.syslog_ident: expected a single line without control characters, got "\\n" at offset 3',
    ]);
    expect(refused('pgpool:\n  settings:\n    log_line_prefix: "x\\\\\' use_watchdog = off"\n')).toHaveLength(1);
    expect(refused('pgpool:\n  settings:\n    use_watchdog: off\n    wd_authkey: k\n')).toEqual([
      'pgpool.settings.use_watchdog: use_watchdog is set from pgpool.nodes (the watchdog is on with 2 or more); change it there',
      'pgpool.settings.wd_authkey: wd_authkey is set from the WD_AUTHKEY secret at run time (never a file); change it there',
    ]);
    expect(refused('pgpool:\n  settings:\n    "use_watchdog = off\\nx": 1\n')).toEqual([
      'pgpool.settings["use_watchdog = off\\nx"]: expected a pgpool.conf parameter name (letters, digits and _)',
    ]);
  });

  it("render, given them anyway, writes each as one value pgpool reads back, or refuses it: the file holds exactly the intended keys", () => {
    const base = parseCluster('', 'c.yaml', input.manifest);
    const hostile: Record<string, string | number | boolean> = {
      log_line_prefix: "it's",
      failover_on_backend_error: true,
      wd_de_escalation_command: "x\\' use_watchdog = off wd_authkey = 'k",
      primary_routing_query_pattern_list: "'; backend_hostname0 = 'evil",
      num_init_children: 16,
    };
    const cluster = { ...base, pgpool: { ...base.pgpool, settings: hostile } };
    const out = render({ ...input, cluster });
    const conf = out.get('deploy/pgha/pgpool/cluster.conf')!;
    const entries = parseConf(conf);
    const overrides = entries.slice(entries.findIndex((e) => e.key in hostile));
    expect(overrides.map((e) => [e.key, e.value])).toEqual(
      Object.keys(hostile)
        .sort()
        .map((k) => [k, readBack(hostile[k]!)]),
    );
    expect(Object.fromEntries(overrides.map((e) => [e.key, e.value]))).toMatchObject({
      log_line_prefix: "it\\'s",
      primary_routing_query_pattern_list: "\\'; backend_hostname0 = \\'evil",
      failover_on_backend_error: 'on',
      num_init_children: '16',
    });
    // Each managed key once, with the cluster's value.
    const keys = entries.map((e) => e.key);
    for (const k of ['use_watchdog', 'backend_hostname0', 'delegate_ip']) expect(keys.filter((x) => x === k), k).toHaveLength(1);
    expect(keys).not.toContain('wd_authkey');
    expect(entries.find((e) => e.key === 'use_watchdog')!.value).toBe('on');
    expect(entries.find((e) => e.key === 'backend_hostname0')!.value).toBe('pg0');
  });

  it('render refuses a line break, a managed key and a key that is not a name, naming each', () => {
    const base = parseCluster('', 'c.yaml', input.manifest);
    const settings = { failover_command: "x\\'\nbackend_hostname0 = 'evil'", use_watchdog: false, 'a = 1\nwd_authkey': 'k' };
    let error: unknown;
    try {
      render({ ...input, cluster: { ...base, pgpool: { ...base.pgpool, settings } } });
    } catch (err) {
      error = err;
    }
    expect(lines(error)).toEqual([
      'deploy/pgha/pgpool/cluster.conf pgpool.settings.a = 1\\nwd_authkey: expected a parameter name of letters, digits and _, got "a = 1\\nwd_authkey"',
      'deploy/pgha/pgpool/cluster.conf pgpool.settings.failover_command: expected a single line without control characters, got "\\n" at offset 3',
      'deploy/pgha/pgpool/cluster.conf pgpool.settings.use_watchdog: use_watchdog is set from pgpool.nodes (the watchdog is on with 2 or more); change it there',
    ]);
  });
});

describe('keys pgha sets itself', () => {
  it('every key the cluster file sets from the definition is refused in pgpool.settings, naming where it comes from', () => {
    const input = projectInput();
    const conf = render(input).get(`deploy/${input.cluster.name}/pgpool/cluster.conf`)!;
    const keys = [...new Set(parseConf(conf).map((e) => e.key))];
    expect(keys).toEqual(expect.arrayContaining(['health_check_period', 'connect_timeout', 'wd_heartbeat_deadtime', 'backend_hostname0']));
    expect(keys.filter((k) => !managedBy(k))).toEqual([]);
    // timings: each key named by the field that sets it, as the template writes it.
    for (const [key, field] of Object.entries(TIMING_KEYS)) {
      const templated = new RegExp(`^${key} = \\{\\{cluster\\.${field.replace(/\./g, '\\.')}\\}\\}$`, 'm');
      expect(input.templates['deploy/cluster.conf.hbs'], key).toMatch(templated);
    }
  });
});
