/**
 * Whether a module may use a symbol exported in `namespace` (kernel/module/main.c
 * verify_namespace_is_imported): no namespace, a namespace the module lists in `import_ns=`, or a
 * `module:<name>[,<name>...]` namespace naming this module.
 */
export function namespaceAllowed(namespace: string, imports: ReadonlySet<string>, moduleName: string): boolean {
  if (namespace === "") return true;
  if (imports.has(namespace)) return true;
  if (namespace.startsWith("module:")) {
    const self = normalizeModuleName(moduleName);
    for (const target of namespace.slice("module:".length).split(",")) {
      if (normalizeModuleName(target) === self) return true;
    }
  }
  return false;
}

function normalizeModuleName(name: string): string {
  return name.replace(/-/g, "_");
}
