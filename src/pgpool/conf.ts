/**
 * pgpool.conf as data: parsing rendered files for their keys, formatting values, and the
 * keys that pgha sets from the cluster definition (not overridable through settings).
 */
export interface ConfEntry {
  line: number;
  key: string;
  value: string;
}

/** Keys and values of a pgpool.conf text, skipping comments and blank lines. */
export function parseConf(text: string): ConfEntry[] {
  const entries: ConfEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`line ${i + 1}: expected "key = value", got: ${line}`);
    entries.push({ line: i + 1, key: m[1]!, value: m[2]! });
  });
  return entries;
}

/** pgpool.conf value syntax: strings quoted with '' escaping, booleans on/off. */
export function formatValue(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') return String(value);
  return `'${value.replace(/'/g, "''")}'`;
}

/** Keys rendered from the cluster definition; overriding them through settings would fork the truth. */
export const MANAGED_KEYS: { pattern: RegExp; field: string }[] = [
  { pattern: /^backend_(hostname|port|weight|data_directory|flag|application_name)\d+$/, field: 'postgres.nodes and postgres.port' },
  { pattern: /^(hostname|wd_port|pgpool_port|heartbeat_hostname|heartbeat_port|heartbeat_device)\d+$/, field: 'pgpool.nodes and its ports' },
  { pattern: /^delegate_ip$/, field: 'network.delegateIp' },
  { pattern: /^use_watchdog$/, field: 'pgpool.nodes (the watchdog is on with 2 or more)' },
  { pattern: /^(port|pcp_port)$/, field: 'pgpool.port / pgpool.pcpPort' },
  { pattern: /^load_balance_mode$/, field: 'pgpool.loadBalance' },
  { pattern: /^wd_authkey$/, field: 'the WD_AUTHKEY secret at run time (never a file)' },
  { pattern: /^(sr_check_password|health_check_password|recovery_password|wd_lifecheck_password)$/, field: 'pool_passwd, generated at run time (never a file)' },
];
