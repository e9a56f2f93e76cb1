import { describe, expect, it } from 'vitest';
import { debianOrigPath, parseDeb822, parseSourcesList } from '../../src/sources/apt.js';

describe('apt configuration', () => {
  it('reads archive URIs from deb822 stanzas, skipping deb-src and disabled ones', () => {
    const text = [
      'Types: deb',
      'URIs: http://mirror.example/debian',
      'Suites: bookworm bookworm-updates',
      '',
      'Types: deb-src',
      'URIs: http://src.example/debian',
      '',
      'Types: deb',
      'Enabled: no',
      'URIs: http://off.example/debian',
      '',
      '# comment',
      'Types: deb deb-src',
      'URIs: http://a.example/debian http://b.example/debian',
    ].join('\n');
    expect(parseDeb822(text)).toEqual(['http://mirror.example/debian', 'http://a.example/debian', 'http://b.example/debian']);
  });

  it('reads one-line sources.list entries with options', () => {
    expect(parseSourcesList('deb [arch=amd64 signed-by=/k] http://x.example/debian bookworm main\n# deb http://y/ x\ndeb-src http://z/ x\n')).toEqual([
      'http://x.example/debian',
    ]);
  });

  it('knows where the archive keeps pgpool2 orig tarballs', () => {
    expect(debianOrigPath('4.7.2')).toBe('pool/main/p/pgpool2/pgpool2_4.7.2.orig.tar.gz');
  });
});
