// @ts-check
// The host page of a portable custom interaction (PCI), run inside the player's sandboxed
// frame (scripts allowed, opaque origin). It implements what QTI 3.0's PCI API asks of a
// delivery system: a small AMD loader (`define`/`require`) for the item's modules, with
// `qtiCustomInteractionContext` mapped to the object below; `register(pci)`; then
// `pci.getInstance(dom, config, state)`. The player sends the description ("init") with
// the candidate's response so far (`boundTo`) and saved state; this page sends back the
// instance's `getResponse()` (QTI's JSON binding) and `getState()` after each thing the
// candidate does, and when the player asks ("read"). It only listens to its parent, and
// only talks to the player's origin.
(function () {
  "use strict"; // i18n: not shown

  /** The player's origin: this page's own URL's (the sandbox makes the document's opaque). */
  const PLAYER_ORIGIN = new URL(location.href).origin;
  const LOAD_TIMEOUT_MS = 15000;

  /** @typedef {{deps: string[], factory: unknown, done: boolean, value: unknown}} Definition */

  /** @type {Map<string, Definition>} */
  const definitions = new Map();
  /** @type {string | null} the module whose file is loading (anonymous `define` is it) */
  let loading = null;
  /** @type {Map<string, any>} registered PCIs by type identifier */
  const registered = new Map();
  /** @type {any} */
  let instance = null;
  let lastSent = "";

  const context = {
    /** @param {any} pci */
    register(pci) {
      if (pci && typeof pci.getInstance === "function") {
        registered.set(String(pci.typeIdentifier ?? ""), pci);
      }
    },
    /** @param {any} _instance */
    notifyReady(_instance) {},
  };

  /**
   * AMD `define([id,] [deps,] factory)`.
   * @param {...unknown} args
   */
  function define(...args) {
    const id = typeof args[0] === "string" ? /** @type {string} */ (args.shift()) : loading;
    const deps = Array.isArray(args[0]) ? /** @type {string[]} */ (args.shift()) : [];
    if (!id) return;
    if (!definitions.has(id)) definitions.set(id, { deps, factory: args[0], done: false, value: undefined });
    if (id !== loading && loading && !definitions.has(loading)) {
      // A named define in a module file also answers for the file's own id.
      definitions.set(loading, /** @type {Definition} */ (definitions.get(id)));
    }
  }
  define.amd = {};

  /**
   * The value of a module, its dependencies first.
   * @param {string} id
   * @param {string[]} [path]
   * @returns {unknown}
   */
  function resolve(id, path = []) {
    if (id === "qtiCustomInteractionContext") return context;
    if (id === "require") return requireModules;
    const definition = definitions.get(id);
    if (!definition) throw new Error(`module ${id} is not defined`); // i18n: not shown
    if (definition.done) return definition.value;
    if (path.includes(id)) throw new Error(`module ${id} depends on itself`); // i18n: not shown
    /** @type {{exports: any}} */
    const module = { exports: {} };
    const deps = definition.deps.map((dep) => {
      if (dep === "exports") return module.exports;
      if (dep === "module") return module;
      return resolve(dep, [...path, id]);
    });
    const result = typeof definition.factory === "function" ? definition.factory(...deps) : definition.factory;
    definition.value = result === undefined ? module.exports : result;
    definition.done = true;
    return definition.value;
  }

  /**
   * AMD `require(deps, callback)` for modules already loaded.
   * @param {string[] | string} deps
   * @param {(...values: unknown[]) => void} [callback]
   */
  function requireModules(deps, callback) {
    if (typeof deps === "string") return resolve(deps);
    const values = deps.map((dep) => resolve(dep));
    if (callback) callback(...values);
    return undefined;
  }

  const globals = /** @type {any} */ (window);
  globals.define = define;
  globals.require = requireModules;
  globals.requirejs = requireModules;

  /**
   * Load one script; resolves when it ran.
   * @param {string} url
   * @returns {Promise<void>}
   */
  function loadScript(url) {
    return new Promise((ok, fail) => {
      const script = document.createElement("script");
      const timer = setTimeout(() => fail(new Error(`timed out: ${url}`)), LOAD_TIMEOUT_MS); // i18n: not shown
      script.addEventListener("load", () => { clearTimeout(timer); ok(); });
      script.addEventListener("error", () => { clearTimeout(timer); fail(new Error(`could not load ${url}`)); }); // i18n: not shown
      script.src = url;
      document.head.append(script);
    });
  }

  /**
   * Load a module's file: the primary URL, else the fallback.
   * @param {{id: string, urls: string[]}} module
   */
  async function loadModule(module) {
    let problem = new Error(`module ${module.id} has no file`); // i18n: not shown
    for (const url of module.urls) {
      // Only files served by the player's origin (the item's media) are loaded.
      if (new URL(url, location.href).origin !== PLAYER_ORIGIN) continue;
      loading = module.id;
      try {
        await loadScript(url);
        if (definitions.has(module.id)) return;
      } catch (error) {
        problem = error instanceof Error ? error : new Error(String(error)); // i18n: not shown
      } finally {
        loading = null;
      }
    }
    throw problem;
  }

  /**
   * Load one of the PCI's own style sheets (the item's media, this origin only; the
   * page's policy allows no other). A sheet that fails to load leaves the PCI unstyled,
   * never stopped.
   * @param {string} url
   */
  function loadStylesheet(url) {
    if (new URL(url, location.href).origin !== PLAYER_ORIGIN) return Promise.resolve();
    return new Promise((resolve) => {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = url;
      link.addEventListener("load", () => resolve(undefined));
      link.addEventListener("error", () => resolve(undefined));
      document.head.append(link);
    });
  }

  /**
   * The item's variables the PCI names, by its names for them, in the QTI JSON binding:
   * `{base: {integer: 7}}`, `{base: null}`, `{list: {integer: [1, 3]}}`, `{record: [...]}`.
   * @param {{name: string, cardinality: string, base_type?: string | null, value?: any,
   *   fields?: {name: string, base_type: string, value?: any}[] | null}[] | undefined} variables
   */
  function bindings(variables) {
    /** @type {{[name: string]: any}} */
    const out = {};
    for (const variable of variables || []) {
      const type = variable.base_type || "";
      const value = variable.value ?? null;
      if (variable.cardinality === "record") {
        out[variable.name] = {
          record: (variable.fields || []).map((field) => ({
            name: field.name,
            base: field.value === null || field.value === undefined ? null : { [field.base_type]: field.value },
          })),
        };
      } else if (variable.cardinality === "single") {
        out[variable.name] = { base: value === null || !type ? null : { [type]: value } };
      } else {
        out[variable.name] = { list: Array.isArray(value) && value.length && type ? { [type]: value } : null };
      }
    }
    return out;
  }

  /** @param {any} message */
  function send(message) {
    window.parent.postMessage({ waa: "pci", ...message }, PLAYER_ORIGIN);
  }

  /** Send the instance's response and state, when they changed (or when asked). */
  function sendResponse(force = false) {
    if (!instance) return;
    let response = null;
    let state = null;
    try {
      response = typeof instance.getResponse === "function" ? instance.getResponse() : null;
      state = typeof instance.getState === "function" ? instance.getState() : null;
    } catch (error) {
      send({ kind: "problem", message: String(error) });
      return;
    }
    const text = JSON.stringify({ response, state });
    if (!force && text === lastSent) return;
    lastSent = text;
    send({ kind: "response", response, state: typeof state === "string" ? state : JSON.stringify(state) });
  }

  function sendHeight() {
    send({ kind: "height", height: Math.ceil(document.documentElement.scrollHeight) });
  }

  /** @param {string} text */
  function showProblem(text) {
    const problem = /** @type {HTMLElement} */ (document.getElementById("pci-problem"));
    problem.textContent = text;
    problem.hidden = false;
    sendHeight();
  }

  /**
   * Load the PCI's modules and start it.
   * @param {any} init
   */
  async function start(init) {
    const description = init.description;
    const pci = description.pci;
    document.documentElement.lang = init.language || "";
    if (init.title) document.title = String(init.title);
    const root = /** @type {HTMLElement} */ (document.getElementById("pci-root"));
    root.innerHTML = pci.markup || ""; // sanitized on the server (content/render/)
    await Promise.all((pci.frame_stylesheets || []).map(loadStylesheet));
    try {
      for (const module of pci.modules) await loadModule(module);
      const main = pci.module ? [pci.module] : pci.modules.map((/** @type {{id: string}} */ m) => m.id);
      for (const id of main) resolve(id);
    } catch (error) {
      showProblem(String(init.problem ?? ""));
      send({ kind: "problem", message: String(error) });
      return;
    }
    const found = registered.get(pci.type_identifier) ?? [...registered.values()][0];
    if (!found) {
      showProblem(String(init.problem ?? ""));
      send({ kind: "problem", message: `no PCI registered as ${pci.type_identifier}` }); // i18n: not shown
      return;
    }
    const rid = description.response_identifier;
    const config = {
      properties: pci.properties || {},
      boundTo: init.boundTo ? { [rid]: init.boundTo } : {},
      // The item's template and context variables the PCI names, in the QTI JSON binding
      // (never a response or outcome: content/render/pci.py).
      templateVariables: bindings(pci.template_variables),
      contextVariables: bindings(pci.context_variables),
      responseIdentifier: rid,
      /** @param {any} ready */
      onready(ready) {
        instance = ready ?? instance;
        sendHeight();
      },
      /** @param {any} done */
      ondone(done) {
        instance = done ?? instance;
        sendResponse(true);
      },
    };
    try {
      const made = found.getInstance(root, config, init.state ?? undefined);
      instance = made ?? instance;
    } catch (error) {
      showProblem(String(init.problem ?? ""));
      send({ kind: "problem", message: String(error) });
      return;
    }
    lastSent = JSON.stringify({ response: init.boundTo ?? null, state: init.state ?? null });
    sendHeight();
    new ResizeObserver(sendHeight).observe(document.body);
    for (const type of ["input", "change", "click", "keyup", "pointerup"]) {
      document.addEventListener(type, () => setTimeout(() => sendResponse(), 0), true);
    }
  }

  let started = false;
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || event.origin !== PLAYER_ORIGIN) return;
    const data = event.data;
    if (!data || data.waa !== "pci") return;
    if (data.kind === "init" && !started) {
      started = true;
      start(data).catch((error) => send({ kind: "problem", message: String(error) }));
    } else if (data.kind === "read") {
      sendResponse(true);
    }
  });
})();
