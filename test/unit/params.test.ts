import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evalConstant, extractKinds, extractParams } from '../../src/pgpool/extract.js';
import { checkKey, kindProblem, paramKind, PARAM_TABLES, pgpoolBool } from '../../src/pgpool/params.js';
import { defaultCacheDir } from '../../src/sources/cache.js';
import { ROOT } from '../helpers.js';

describe('pgpool.conf key table', () => {
  it('covers 4.3 to 4.7', () => {
    expect(Object.keys(PARAM_TABLES)).toEqual(['4.3', '4.4', '4.5', '4.6', '4.7']);
  });

  it.each([
    ['backend_clustering_mode', '4.7.2'],
    ['delegate_ip', '4.7.2'],
    ['work_dir', '4.7.2'],
    ['recovery_database', '4.7.2'],
    ['backend_hostname12', '4.7.2'],
    ['health_check_period', '4.7.2'],
    ['health_check_period3', '4.7.2'],
    ['logdir', '4.6.1'],
    ['delegate_ip', '4.4.0'],
    ['socket_dir', '4.3.5'],
  ])('accepts %s on %s', (key, version) => {
    expect(checkKey(key, version)).toBeNull();
  });

  it.each([
    ['delegate_IP', '4.7.2', 'pgpool 4.7.2 accepts delegate_IP only as a deprecated alias: use delegate_ip (renamed in 4.4)'],
    ['logdir', '4.7.2', 'pgpool 4.7.2 accepts logdir only as a deprecated alias: use work_dir (renamed in 4.7)'],
    ['socket_dir', '4.4.1', 'pgpool 4.4.1 does not know socket_dir: renamed to unix_socket_directories in 4.4'],
    ['follow_master_command', '4.3.5', 'pgpool 4.3.5 does not know follow_master_command: renamed to follow_primary_command in 4.2'],
    ['other_pgpool_hostname0', '4.7.2', 'pgpool 4.7.2 does not know other_pgpool_hostname0: renamed to hostnameN in 4.2'],
    ['backend_hostname', '4.7.2', 'pgpool 4.7.2 takes backend_hostname only with a node index (backend_hostname0, backend_hostname1, ...)'],
    ['work_dir', '4.6.1', 'pgpool 4.6.1 has no parameter work_dir'],
    ['delegate_ip', '4.3.5', 'pgpool 4.3.5 has no parameter delegate_ip'],
    ['no_such_key', '4.7.2', 'pgpool 4.7.2 has no parameter no_such_key'],
    ['port', '4.8.0', 'pgpool 4.8.0 has no parameter table (supported: 4.3, 4.4, 4.5, 4.6, 4.7)'],
  ])('rejects %s on %s', (key, version, message) => {
    expect(checkKey(key, version)).toBe(message);
  });

  it('extracts plain, indexed and alias entries from pool_config_variables.c', () => {
    const source = `
static struct config_bool ConfigureNamesBool[] =
{
	{
		{"use_watchdog", CFGCXT_INIT, WATCHDOG_CONFIG,
			"Enables the pgpool-II watchdog.",
			CONFIG_VAR_TYPE_BOOL, false, 0
		},
	},
	{
		{"fail_over_on_backend_error", CFGCXT_RELOAD, FAILOVER_CONFIG,
			"Old config parameter for failover_on_backend_error.",
			CONFIG_VAR_TYPE_BOOL, false, VAR_HIDDEN_IN_SHOW_ALL
		},
	},
	{NULL}
};
static struct config_int_array ConfigureNamesIntArray[] =
{
	{
		{"backend_port", CFGCXT_RELOAD, CONNECTION_CONFIG,
			"port number of PostgreSQL backend.",
		},
	},
	{
		{"health_check_period", CFGCXT_RELOAD, HEALTH_CHECK_CONFIG,
			"Time interval in seconds between the health checks.",
		},
		{"health_check_period", CFGCXT_RELOAD, HEALTH_CHECK_CONFIG,
			"Time interval in seconds between the health checks.",
		},
	},
};`;
    expect(extractParams(source)).toEqual({
      plain: ['health_check_period', 'use_watchdog'],
      indexed: ['backend_port', 'health_check_period'],
      aliases: { fail_over_on_backend_error: 'failover_on_backend_error' },
    });
  });

  it('reads each kind from the array a record is in, with ranges, enum names, list separators and the one list that unescapes quotes', () => {
    const source = `
static const struct config_enum_entry log_standby_delay_options[] = {
	{"always", LSD_ALWAYS, false},
	{"none", LSD_NONE, false},
	{NULL, 0, false}
};
static struct config_bool ConfigureNamesBool[] =
{
	{
		{"notice_per_node_statement", CFGCXT_SESSION, LOGGING_CONFIG,
			"Logs notice message for per node detailed SQL statements.",
			CONFIG_VAR_TYPE_ENUM, false, 0
		},
		&g_pool_config.notice_per_node_statement,
		false,
		NULL, NULL, NULL
	},
	{
		{"fail_over_on_backend_error", CFGCXT_RELOAD, FAILOVER_CONFIG,
			"Old config parameter for failover_on_backend_error.",
			CONFIG_VAR_TYPE_BOOL, false, VAR_HIDDEN_IN_SHOW_ALL
		},
		NULL, false, NULL, NULL, NULL
	},
	{NULL}
};
static struct config_int ConfigureNamesInt[] =
{
	{
		{"unix_socket_permissions", CFGCXT_INIT, CONNECTION_CONFIG,
			"Permissions of the unix domain sockets.",
			CONFIG_VAR_TYPE_INT, false, 0
		},
		&g_pool_config.unix_socket_permissions,
		0777,
		0000, 0777,	/* min, max */
		NULL, NULL, NULL
	},
	{
		{"log_rotation_size", CFGCXT_INIT, LOGGING_CONFIG,
			"Automatic rotation of logfiles after N kilobytes.",
			CONFIG_VAR_TYPE_INT, false, GUC_UNIT_KB
		},
		&g_pool_config.log_rotation_size,
		10 * 1024,
		0, INT_MAX / 1024,
		NULL, NULL, NULL
	},
};
static struct config_long ConfigureNamesLong[] =
{
	{
		{"delay_threshold", CFGCXT_RELOAD, STREAMING_REPLICATION_CONFIG,
			"standby delay threshold in bytes.",
			CONFIG_VAR_TYPE_LONG, false, GUC_UNIT_BYTE
		},
		&g_pool_config.delay_threshold,
		0,
		0, LONG_MAX,
		NULL, NULL, NULL
	},
};
static struct config_double_array ConfigureNamesDoubleArray[] =
{
	{
		{"backend_weight", CFGCXT_RELOAD, CONNECTION_CONFIG,
			"load balance weight of backend.",
			CONFIG_VAR_TYPE_DOUBLE_ARRAY, true, 0, MAX_NUM_BACKENDS
		},
		NULL,
		0,
		0.0, 100000000.0,
		EMPTY_CONFIG_DOUBLE,
		BackendWeightAssignFunc, NULL, BackendWeightShowFunc, BackendSlotEmptyCheckFunc
	},
};
static struct config_string_list ConfigureNamesStringList[] =
{
	{
		{"primary_routing_query_pattern_list", CFGCXT_RELOAD, CONNECTION_CONFIG,
			"list of query patterns, separated by ';'.",
			CONFIG_VAR_TYPE_STRING_LIST, false, 0
		},
		&g_pool_config.primary_routing_query_pattern_list,
		&g_pool_config.num_primary_routing_query_pattern_list,
		(const char *) default_primary_routing_query_pattern_list,
		";",
		true,
		NULL, NULL, NULL
	},
	{
		{"listen_addresses", CFGCXT_INIT, CONNECTION_CONFIG,
			"hostname(s) or IP address(es) on which pgpool will listen on.",
			CONFIG_VAR_TYPE_STRING_LIST, false, 0
		},
		&g_pool_config.listen_addresses,
		&g_pool_config.num_listen_addresses,
		(const char *) default_listen_addresses_list,
		",",
		false,
		NULL, NULL, NULL
	},
};
static struct config_enum ConfigureNamesEnum[] =
{
	{
		{"log_standby_delay", CFGCXT_RELOAD, STREAMING_REPLICATION_CONFIG,
			"When to log standby delays.",
			CONFIG_VAR_TYPE_ENUM, false, 0
		},
		(int *) &g_pool_config.log_standby_delay,
		LSD_OVER_THRESHOLD,
		log_standby_delay_options,
		NULL, NULL, NULL, NULL
	},
};
static void f(void) {
					if (strcmp(gconf->name, "primary_routing_query_pattern_list") == 0)
					{
						*conf->variable = get_list_from_string_regex_delim(newval, conf->separator, conf->list_elements_count);
					}
}`;
    expect(extractKinds(source)).toEqual({
      backend_weight: { type: 'real', min: 0, max: 100000000 },
      delay_threshold: { type: 'integer', min: 0, max: 2 ** 63 - 1 },
      listen_addresses: { type: 'list', separator: ',' },
      log_rotation_size: { type: 'integer', min: 0, max: 2097151 },
      log_standby_delay: { type: 'enum', values: ['always', 'none'] },
      notice_per_node_statement: { type: 'boolean' },
      primary_routing_query_pattern_list: { type: 'list', separator: ';', quoteEscapes: true },
      unix_socket_permissions: { type: 'integer', min: 0, max: 0o777 },
    });
  });

  it('evaluates the range bounds pgpool writes, and refuses one it cannot read', () => {
    expect(evalConstant('0777')).toBe(511);
    expect(evalConstant('-1')).toBe(-1);
    expect(evalConstant('INT_MAX / 1024')).toBe(2097151);
    expect(evalConstant('(int64) 67108864')).toBe(67108864);
    expect(evalConstant('0x10')).toBe(16);
    expect(() => evalConstant('MAX_NUM_BACKENDS', 'x')).toThrow('x: cannot evaluate range bound "MAX_NUM_BACKENDS"');
  });

  it('has a kind for every 4.7 parameter, and none for older minors (whose values are not checked)', () => {
    const t = PARAM_TABLES['4.7']!;
    expect([...new Set([...t.plain, ...t.indexed])].filter((k) => !t.kinds?.[k])).toEqual([]);
    expect(paramKind('num_init_children', '4.7.2')).toEqual({ type: 'integer', min: 1, max: 2147483647 });
    expect(paramKind('backend_port3', '4.7.2')).toEqual({ type: 'integer', min: 1024, max: 65535 });
    expect(paramKind('num_init_children', '4.6.1')).toBeUndefined();
    expect(kindProblem('num_init_children', 'lots', '4.6.1')).toBeNull();
  });

  it.skipIf(!existsSync(join(defaultCacheDir(ROOT), 'pgpool-II-4.7.2.tar.gz')))('the committed 4.7 kinds are what the pinned tarball defines', () => {
    const source = execFileSync('tar', ['-xzOf', join(defaultCacheDir(ROOT), 'pgpool-II-4.7.2.tar.gz'), 'pgpool-II-4.7.2/src/config/pool_config_variables.c'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(extractKinds(source)).toEqual(PARAM_TABLES['4.7']!.kinds);
  });

  it.each([
    ['on', true],
    ['OFF', false],
    ['of', false],
    ['t', true],
    ['Yes', true],
    ['n', false],
    ['1', true],
    ['0', false],
    ['o', null],
    ['10', null],
    ['truex', null],
    ['', null],
  ] as const)("reads %j as pgpool's parse_bool_with_len does: %s", (text, value) => {
    expect(pgpoolBool(text)).toBe(value);
  });
});
