import type Docker from 'dockerode';
import { z } from 'zod';
import { connectEngine, imageExists } from '../docker/engine.js';
import { releaseImages } from '../images/catalog.js';
import { loadProject, type ProjectOptions } from '../project.js';
import { parseFlags } from './options.js';
import { say } from './say.js';

export type PublishOptions = ProjectOptions & { registry: string; json?: boolean };

/** A registry as an image reference names it: host[:port], no scheme and no path. */
export const registrySchema = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$/, 'expected a registry as HOST or HOST:PORT (no scheme, no path), e.g. 127.0.0.1:5000 or ghcr.io');

export interface Published {
  image: string;
  tag: string;
  /** The manifest digest the registry answered with: the reference a deployment pins. */
  digest: string;
  /** registry/repository@digest. */
  reference: string;
}

/** Pushes `tag` and returns the digest the registry reported (the push stream's last aux record). */
async function push(docker: Docker, tag: string): Promise<string> {
  // The engine wants an auth header even for a registry without auth. It is empty: the push is
  // anonymous (a registry that needs a login is not supported yet; docker push it instead).
  const stream = (await docker.getImage(tag).push({ authconfig: {} } as never)) as unknown as NodeJS.ReadableStream;
  let digest = '';
  let error = '';
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : resolve()),
      (event: { aux?: { Digest?: string }; error?: string }) => {
        if (event.aux?.Digest) digest = event.aux.Digest;
        if (event.error) error = event.error;
      },
    ),
  );
  if (error || !digest) throw new Error(`push ${tag}: ${error || 'the registry reported no digest'}`);
  return digest;
}

/**
 * `pgha publish --registry HOST[:PORT]`: every release image this engine has built, tagged
 * under the registry and pushed; one line per image with its digest (or JSON). An image not
 * built here (the Alpine variant on a machine that cannot build it) is named and left out.
 */
export async function publishCommand(root: string, opts: PublishOptions): Promise<void> {
  const { registry } = parseFlags(z.object({ registry: registrySchema }), { registry: opts.registry }, { registry: '--registry' });
  const { catalog } = loadProject(root, opts);
  const docker = await connectEngine();
  const published: Published[] = [];
  for (const spec of releaseImages(catalog)) {
    if (!(await imageExists(docker, spec.ref))) {
      say(`${spec.ref}: not built here; left out`);
      continue;
    }
    const tag = `${registry}/${spec.ref}`;
    const [repo, version] = [tag.slice(0, tag.lastIndexOf(':')), tag.slice(tag.lastIndexOf(':') + 1)];
    await docker.getImage(spec.ref).tag({ repo, tag: version });
    const digest = await push(docker, tag);
    published.push({ image: spec.ref, tag, digest, reference: `${repo}@${digest}` });
    if (!opts.json) console.log(`${spec.ref} -> ${tag} ${digest}`);
  }
  if (opts.json) console.log(JSON.stringify(published, null, 2));
}
