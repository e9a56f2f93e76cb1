import Docker from 'dockerode';

/** Connects to the engine named by DOCKER_HOST, else the local socket, and checks it answers. */
export async function connectEngine(): Promise<Docker> {
  const docker = new Docker();
  try {
    await docker.ping();
  } catch (err) {
    const where = process.env.DOCKER_HOST ?? '/var/run/docker.sock';
    throw new Error(`no Docker engine answers at ${where} (${(err as Error).message}); on Debian run scripts/docker-engine.sh start`);
  }
  return docker;
}

export async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch {
    return false;
  }
}

/** Pulls an image, giving up after `timeoutMs`; resolves to null on success, else the reason. */
export async function tryPull(docker: Docker, ref: string, timeoutMs: number): Promise<string | null> {
  const attempt = new Promise<string | null>((resolve) => {
    docker.pull(ref, (err: Error | null, stream?: NodeJS.ReadableStream) => {
      if (err || !stream) return resolve(err?.message ?? 'no stream');
      docker.modem.followProgress(stream, (e: Error | null) => resolve(e ? e.message : null));
    });
  });
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve(`no answer in ${timeoutMs / 1000} s`), timeoutMs).unref());
  return Promise.race([attempt, timeout]);
}
