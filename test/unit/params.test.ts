import { describe, expect, it } from 'vitest';
import { extractParams } from '../../src/pgpool/extract.js';
import { checkKey, PARAM_TABLES } from '../../src/pgpool/params.js';

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
});
