import type Docker from 'dockerode';
import { contextStream, type ExtraFile } from './context.js';
import { BuildProgress } from './progress.js';

export interface BuildRequest {
  /** Short name for logs ("postgres/bookworm"). */
  name: string;
  contextDir: string;
  extra?: ExtraFile[];
  tags: string[];
  buildargs?: Record<string, string>;
  labels?: Record<string, string>;
  logFile: string;
  noCache?: boolean;
}

export class BuildFailed extends Error {
  constructor(
    readonly image: string,
    summary: string,
  ) {
    super(`build of ${image} ${summary}`);
    this.name = 'BuildFailed';
  }
}

/** Builds one image through the engine (classic builder), streaming its output. Returns the image id. */
export async function buildImage(docker: Docker, req: BuildRequest): Promise<string> {
  const progress = new BuildProgress(req.name, req.logFile);
  const stream: NodeJS.ReadableStream = await docker.buildImage(contextStream(req.contextDir, req.extra), {
    t: req.tags[0],
    buildargs: req.buildargs,
    labels: req.labels,
    nocache: req.noCache,
    rm: true,
    forcerm: true,
  });
  let imageId = '';
  let error = '';
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : resolve()),
      (event: { stream?: string; error?: string; aux?: { ID?: string } }) => {
        if (event.stream) progress.write(event.stream);
        if (event.aux?.ID) imageId = event.aux.ID;
        if (event.error) {
          error = event.error;
          progress.write(`ERROR: ${event.error}\n`);
        }
      },
    );
  }).catch((err: Error) => {
    error = err.message;
  });
  if (error || !imageId) {
    await progress.close('FAILED');
    throw new BuildFailed(req.name, `${progress.failureSummary()}\nengine: ${error || 'no image id returned'}`);
  }
  for (const tag of req.tags.slice(1)) {
    const [repo, version] = splitRef(tag);
    await docker.getImage(imageId).tag({ repo, tag: version });
  }
  await progress.close(`built ${req.tags.join(', ')} ${imageId.slice(7, 19)}`);
  return imageId;
}

function splitRef(ref: string): [string, string] {
  const i = ref.lastIndexOf(':');
  return i > ref.lastIndexOf('/') ? [ref.slice(0, i), ref.slice(i + 1)] : [ref, 'latest'];
}
