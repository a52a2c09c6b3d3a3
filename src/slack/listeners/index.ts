import type { App } from "@slack/bolt";
import { registerActions } from "./actions.js";
import { registerBatchActions } from "./batch-actions.js";
import { registerCommands } from "./commands.js";
import type { ListenerDeps } from "./deps.js";
import { registerDomains } from "./domains.js";
import { registerHome } from "./home.js";
import { registerViews } from "./views.js";

export type { ListenerDeps } from "./deps.js";

export function registerListeners(app: App, deps: ListenerDeps): void {
  registerCommands(app, deps);
  registerActions(app, deps);
  registerDomains(app, deps);
  registerBatchActions(app, deps);
  registerViews(app, deps);
  registerHome(app, deps);
}
