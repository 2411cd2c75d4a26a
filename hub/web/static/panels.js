// Console panels that plugins add (GET /api/panels): each is an ES module served by the hub under
// /plugins/<plugin>/<name>.js, imported here and given a box on the status view to draw in.
//
// A panel module exports mount(element, context). The context gives it the same tools the console
// uses and nothing global: get/post/del (JSON, with the CSRF token), subscribe(handler) for live stream
// events (returns an unsubscribe function), h() to build elements from text safely, and the user.
// Plugin code is installed by the room's IT staff and runs with the console's rights; a panel that
// throws is shown as failed and the rest of the console goes on.

import { del, get, post } from "./api.js";
import { h, replace } from "./dom.js";

export class PanelHost {
  constructor({ container, session }) {
    this.container = container;
    this.session = session;
    this.listeners = new Set();
    this.loaded = false;
  }

  /** Hand stream events to every panel that subscribed. */
  dispatch(events) {
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch (error) {
        console.error("a console panel failed on an event", error);
      }
    }
  }

  reset() {
    this.listeners.clear();
    this.loaded = false;
    replace(this.container);
  }

  async load() {
    if (this.loaded) return;
    this.loaded = true;
    let panels = [];
    try {
      panels = (await get("/api/panels")).panels || [];
    } catch (error) {
      return;
    }
    if (!panels.length) return;
    replace(this.container, h("h2", {}, "Plugin panels"));
    for (const panel of panels) {
      const body = h("div", { class: "panel-body" });
      this.container.appendChild(h("section", { class: "plugin-panel", dataset: { plugin: panel.plugin, panel: panel.name } },
        h("h3", {}, panel.title || panel.name), panel.description ? h("p", { class: "muted" }, panel.description) : null, body));
      this.mount(panel, body);
    }
  }

  async mount(panel, body) {
    if (!/^\/plugins\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\.js$/.test(String(panel.script_url))) {
      replace(body, h("p", { class: "error" }, "This panel's script is not served by the hub."));
      return;
    }
    try {
      const module = await import(panel.script_url);
      const mount = module.mount || module.default;
      if (typeof mount !== "function") throw new Error("the script exports no mount(element, context)");
      await mount(body, {
        user: (this.session() || {}).user,
        get, post, del, h,
        subscribe: (handler) => {
          this.listeners.add(handler);
          return () => this.listeners.delete(handler);
        },
      });
    } catch (error) {
      replace(body, h("p", { class: "error" }, `This panel failed: ${error.message}`));
    }
  }
}
