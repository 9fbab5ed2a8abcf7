// Loads tasks/<identifier>.(ts|js): one file per task, named as the task. The same
// directory is what the graphile-worker CLI reads through graphile.config.mjs.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Task, TaskList } from 'graphile-worker';

export const TASKS_DIR = fileURLToPath(new URL('../tasks/', import.meta.url));
// At the repository root, beside tasks/ (graphile-worker's default place), so the CLI
// does not try to load it as a task.
export const CRONTAB_FILE = fileURLToPath(new URL('../crontab', import.meta.url));
const TASK_FILE = /^([A-Za-z0-9_-]+)\.(ts|js|mjs)$/;

export async function loadTaskList(dir = TASKS_DIR): Promise<TaskList> {
  const taskList: TaskList = {};
  for (const file of (await readdir(dir)).sort()) {
    const match = TASK_FILE.exec(file);
    if (!match || file.endsWith('.d.ts') || file.endsWith('.test.ts')) continue;
    const module = (await import(pathToFileURL(path.join(dir, file)).href)) as { default?: Task };
    if (typeof module.default !== 'function') throw new Error(`tasks/${file} must default-export a task function`);
    taskList[match[1]!] = module.default;
  }
  return taskList;
}
