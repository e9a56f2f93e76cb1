import type Docker from 'dockerode';
import { extract } from 'tar-stream';
import type { Derived } from '../manifest/schema.js';
import type { ImageSpec } from './catalog.js';
import type { ImageFacts, ImageFiles } from './sbom-input.js';

/**
 * The edge of the SBOM: reads the package databases and the other files it is made from out of
 * a built image, through a container created from the image and never started (the engine's
 * archive API reads its file system as it is). Nothing here runs in the image.
 */

/** An entry of a tar stream: a regular file's text, or a symbolic link's target. */
export type TarEntry = { text: string } | { link: string };

/** The largest file read out of an image: a dpkg status database is a few MiB at most. */
const FILE_LIMIT_BYTES = 64 * 1024 * 1024;

/** The regular files and symbolic links of a tar stream whose names `keep` accepts, keyed by name. */
export async function tarEntries(stream: NodeJS.ReadableStream, keep: (name: string) => boolean): Promise<Map<string, TarEntry>> {
  const entries = new Map<string, TarEntry>();
  const tar = extract();
  tar.on('entry', (header, body, next) => {
    const name = header.name.replace(/\/$/, '');
    const wanted = keep(name);
    if (wanted && header.type === 'symlink') entries.set(name, { link: header.linkname ?? '' });
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (data: unknown) => {
      const c = data as Buffer;
      size += c.length;
      if (wanted && header.type === 'file' && size <= FILE_LIMIT_BYTES) chunks.push(c);
    });
    body.on('end', () => {
      if (wanted && header.type === 'file') {
        if (size > FILE_LIMIT_BYTES) tar.destroy(new Error(`${name}: larger than ${FILE_LIMIT_BYTES} bytes`));
        else entries.set(name, { text: Buffer.concat(chunks).toString('utf8') });
      }
      next();
    });
    body.resume();
  });
  await new Promise<void>((resolve, reject) => {
    tar.on('finish', resolve);
    tar.on('error', reject);
    stream.on('error', reject);
    stream.pipe(tar as unknown as NodeJS.WritableStream);
  });
  return entries;
}

/**
 * The copyright file of each package from an archive of /usr/share/doc (entries "doc/<pkg>/copyright"),
 * following the links Debian packages make: a doc directory that links to another package's,
 * or a copyright file that links to another's (../<other>/copyright).
 */
export function copyrightTexts(entries: ReadonlyMap<string, TarEntry>): Record<string, string> {
  const texts: Record<string, string> = {};
  const fileOf = (pkg: string, depth = 0): string | undefined => {
    if (depth > 8) return undefined;
    const dir = entries.get(`doc/${pkg}`);
    if (dir && 'link' in dir) return fileOf(dir.link.replace(/^\/usr\/share\/doc\//, '').replace(/\/$/, ''), depth + 1);
    const file = entries.get(`doc/${pkg}/copyright`);
    if (!file) return undefined;
    if ('text' in file) return file.text;
    const m = /^(?:\.\.\/|\/usr\/share\/doc\/)([^/]+)\/copyright$/.exec(file.link);
    return m ? fileOf(m[1]!, depth + 1) : undefined;
  };
  for (const name of entries.keys()) {
    const pkg = /^doc\/([^/]+)(?:\/copyright)?$/.exec(name)?.[1];
    if (pkg === undefined || pkg in texts) continue;
    const text = fileOf(pkg);
    if (text !== undefined) texts[pkg] = text;
  }
  return texts;
}

/** The entries of `path` in a container's file system; undefined when there is no such path. */
async function archiveOf(container: Docker.Container, path: string, keep: (name: string) => boolean): Promise<Map<string, TarEntry> | undefined> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await container.getArchive({ path });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
  return tarEntries(stream, keep);
}

/** The text of one regular file of a container (undefined: absent, or a symbolic link). */
async function fileOf(container: Docker.Container, path: string): Promise<string | undefined> {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const entry = (await archiveOf(container, path, (n) => n === base))?.get(base);
  return entry && 'text' in entry ? entry.text : undefined;
}

/** The files the SBOM of `spec` is made from, read from a created (not started) container. */
async function imageFiles(container: Docker.Container, spec: ImageSpec): Promise<ImageFiles> {
  // /etc/os-release is a link to ../usr/lib/os-release on both distributions; the archive gives the link.
  const osRelease = (await fileOf(container, '/usr/lib/os-release')) ?? (await fileOf(container, '/etc/os-release'));
  if (osRelease === undefined) throw new Error(`${spec.ref}: no os-release in the image`);
  const files: ImageFiles = { osRelease };
  if (spec.family === 'debian') {
    files.dpkgStatus = await fileOf(container, '/var/lib/dpkg/status');
    const docs = await archiveOf(container, '/usr/share/doc', (n) => /^doc\/[^/]+(\/copyright)?$/.test(n));
    files.copyrights = docs ? copyrightTexts(docs) : {};
  } else {
    files.apkInstalled = await fileOf(container, '/lib/apk/db/installed');
  }
  if (spec.kind === 'pgpool') {
    files.patchSeries = await fileOf(container, '/usr/local/share/pgha/patches/series');
    files.patchesSkipped = await fileOf(container, '/usr/local/share/pgha/patches/skipped');
  }
  return files;
}

/** The digest a local image was pulled by (its first RepoDigest), when the engine has it. */
async function localDigest(docker: Docker, ref: string): Promise<string | undefined> {
  const info = await docker.getImage(ref).inspect().catch(() => undefined);
  return info?.RepoDigests?.[0]?.split('@')[1];
}

/** Everything the SBOM of a built image is made from: the engine's facts and the files read from it. */
export async function readImageFacts(docker: Docker, spec: ImageSpec, d: Derived): Promise<ImageFacts> {
  const info = await docker.getImage(spec.ref).inspect();
  const container = await docker.createContainer({ Image: info.Id, NetworkDisabled: true });
  try {
    const files = await imageFiles(container, spec);
    const originDigest = spec.family === 'alpine' ? await localDigest(docker, d.bases.postgresAlpine) : undefined;
    return { id: info.Id, labels: info.Config?.Labels ?? {}, repoDigests: info.RepoDigests ?? [], files, ...(originDigest ? { originDigest } : {}) };
  } finally {
    // v: the postgres image declares a VOLUME; creating the container made an anonymous one.
    await container.remove({ force: true, v: true }).catch(() => {});
  }
}
