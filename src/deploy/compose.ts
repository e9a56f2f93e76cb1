import { execa, type Options } from 'execa';

let found: string[] | null = null;

/** `docker compose` (v2 plugin) when the docker CLI has it, else docker-compose 1.x. */
export async function composeCommand(): Promise<string[]> {
  if (found) return found;
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    try {
      await execa(cmd[0]!, [...cmd.slice(1), 'version'], { stdio: 'ignore' });
      found = cmd;
      return cmd;
    } catch {
      // try the next one
    }
  }
  throw new Error('neither `docker compose` nor docker-compose is installed: install the compose plugin or Debian\'s docker-compose');
}

/** Runs compose on a compose file of the deploy directory (the cluster's own by default), as project `project`. */
export async function compose(deployDir: string, project: string, args: string[], opts: Options = {}, file = 'docker-compose.yml') {
  const cmd = await composeCommand();
  return execa(cmd[0]!, [...cmd.slice(1), '--project-directory', deployDir, '-f', `${deployDir}/${file}`, '-p', project, ...args], opts);
}
