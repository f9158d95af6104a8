/**
 * kabi's layer order, written down once and checked in CI (`npm run lint:deps`).
 *
 * The folders read as the data flow, bottom first: shared types and the root (filesystem) layer,
 * then bytes (codecs, ELF), records (modules, symvers), the caches and the load stage, verdicts
 * (engine), what is made of them (reports, the weak-updates link plan), and the thin edges (the
 * public API and the CLI). A file may import its own folder and any folder LOWER in LAYERS,
 * never a higher one, and no import cycle is allowed anywhere.
 */
const LAYERS = [
  "src/types",
  "src/root",
  "native-free-fallback",
  "src/decompress",
  "src/package",
  "src/elf",
  "src/module|src/symvers",
  "src/cache",
  "src/load",
  "src/engine",
  "src/audit|src/weak|src/system",
  "src/api\\.ts|src/api",
  "src/cli",
];

const layerPath = (layer) => `^(${layer})(/|$)`;

/** The ordered pairs of folders that share a rank in LAYERS. */
const SIBLINGS = LAYERS.flatMap((layer) => {
  const folders = layer.split("|").filter((f) => f.startsWith("src/") && !f.includes("\\."));
  return folders.flatMap((a) => folders.filter((b) => b !== a).map((b) => [a, b]));
});

/** One rule per layer: nothing in it imports a layer above it. */
const upward = LAYERS.slice(0, -1).map((layer, rank) => ({
  name: `no-upward-import-from-${layer.replace(/[^a-z]+/g, "-")}`,
  comment: `${layer} is below ${LAYERS.slice(rank + 1).join(", ")} in the data flow and may not import them`,
  severity: "error",
  from: { path: layerPath(layer) },
  to: { path: LAYERS.slice(rank + 1).map(layerPath) },
}));

module.exports = {
  forbidden: [
    ...upward,
    // Siblings on one rank (module and symvers; audit and weak) are independent of each other.
    ...SIBLINGS.map(([from, to]) => ({
      name: "no-sibling-import",
      comment: `${from} and ${to} share a rank: neither imports the other`,
      severity: "error",
      from: { path: layerPath(from) },
      to: { path: layerPath(to) },
    })),
    {
      name: "native-free-imports-only-types",
      comment: "the native-free codecs stand on the Codec contract alone, so they load wherever Node runs",
      severity: "error",
      from: { path: "^native-free-fallback/" },
      to: { path: "^src/", pathNot: "^src/types/" },
    },
    {
      name: "elfy-in-one-file",
      comment: "elfy decodes the ELF header and section table in src/elf/elf-file.ts and nowhere else",
      severity: "error",
      from: { pathNot: "^src/elf/elf-file\\.ts$" },
      to: { path: "(^|/)node_modules/elfy/" },
    },
    {
      name: "no-circular",
      comment: "an import cycle, at any depth",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "src-not-from-tests",
      severity: "error",
      from: { path: "^(src|native-free-fallback)/" },
      to: { path: "^(test|bench|fixtures)/" },
    },
    {
      name: "every-file-in-a-layer",
      comment: "a new top-level folder of src/ must be given its place in LAYERS",
      severity: "error",
      from: { path: "^src/", pathNot: LAYERS.map(layerPath) },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // node_modules is not followed but stays visible as a dependency (the elfy rule needs it).
    exclude: { path: "^dist/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"], extensions: [".ts", ".js"] },
  },
};
