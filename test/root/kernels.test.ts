import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import {
  listKernels,
  locateSymvers,
  parseSymversOption,
  symversCandidates,
  SymversOptionError,
} from "../../src/root/kernels.js";
import { resolveInRoot } from "../../src/root/resolve-in-root.js";
import { readSymvers } from "../../src/symvers/read-symvers.js";

const top = mkdtempSync(path.join(tmpdir(), "kabi-locate-"));
afterAll(() => rmSync(top, { recursive: true, force: true }));
let n = 0;
const newRoot = (): string => {
  const r = path.join(top, `root${n++}`);
  mkdirSync(r);
  return r;
};
const file = (root: string, rel: string, content: string | Buffer = "x"): string => {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, content);
  return p;
};
const dir = (root: string, rel: string): void => {
  mkdirSync(path.join(root, rel), { recursive: true });
};
const link = (root: string, rel: string, target: string): void => {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  symlinkSync(target, p);
};

const K = "6.12.117+deb12-amd64";
const line = (sym: string): string => `0x27e6258d\t${sym}\tvmlinux\tEXPORT_SYMBOL_GPL\t\n`;

describe("locateSymvers: each place distributions use", () => {
  const cases: Array<[string, string]> = [
    ["RHEL/SUSE /boot", `boot/symvers-${K}.gz`],
    ["lib/modules symvers.gz", `lib/modules/${K}/symvers.gz`],
    ["lib/modules symvers.xz", `lib/modules/${K}/symvers.xz`],
    ["usr-merged symvers.gz", `usr/lib/modules/${K}/symvers.gz`],
    ["usr-merged symvers.xz", `usr/lib/modules/${K}/symvers.xz`],
    ["Debian/Ubuntu headers", `usr/src/linux-headers-${K}/Module.symvers`],
    ["build tree", `lib/modules/${K}/build/Module.symvers`],
  ];
  for (const [what, rel] of cases) {
    it(`finds ${what} (${rel})`, async () => {
      const root = newRoot();
      const p = file(root, rel);
      expect(await locateSymvers(K, root)).toBe(p);
      expect(await locateSymvers("6.12.117+deb12-cloud-amd64", root)).toBeNull();
    });
  }

  it("tries them in the documented order", async () => {
    const root = newRoot();
    const rels = symversCandidates(K);
    expect(rels.map((r) => cases.find(([, c]) => c === r)?.[1])).toEqual(cases.map(([, c]) => c));
    const paths = rels.map((r) => file(root, r));
    for (let i = 0; i < paths.length; i++) {
      expect(await locateSymvers(K, root)).toBe(paths[i]);
      rmSync(paths[i]);
    }
    expect(await locateSymvers(K, root)).toBeNull();
  });

  it("skips a directory where a file is expected", async () => {
    const root = newRoot();
    dir(root, `boot/symvers-${K}.gz`);
    const p = file(root, `lib/modules/${K}/symvers.xz`);
    expect(await locateSymvers(K, root)).toBe(p);
  });

  it("resolves an absolute build symlink inside the root, not on the host", async () => {
    const root = newRoot();
    // A decoy on the host at the very path the link names.
    const hostDir = path.join(top, "host-kernels", K);
    file("/", path.join(hostDir, "Module.symvers"), line("host_symbol"));
    const inRoot = file(root, path.join(hostDir, "Module.symvers"), line("root_symbol"));
    link(root, `lib/modules/${K}/build`, hostDir);
    const found = await locateSymvers(K, root);
    expect(found).toBe(inRoot);
    const t = await readSymvers(found!);
    expect([...t.entries.keys()]).toEqual(["root_symbol"]);
  });

  it("resolves the RHEL-style absolute link /usr/src/kernels/K", async () => {
    const root = newRoot();
    const p = file(root, `usr/src/kernels/${K}/Module.symvers`);
    link(root, `lib/modules/${K}/build`, `/usr/src/kernels/${K}`);
    expect(await locateSymvers(K, root)).toBe(p);
  });

  it("never lets .. in a link climb out of the root", async () => {
    const root = newRoot();
    const p = file(root, `usr/src/linux-kbuild/Module.symvers`);
    link(root, `lib/modules/${K}/build`, "../../../../../../../../../usr/src/linux-kbuild");
    expect(await locateSymvers(K, root)).toBe(p);
  });

  it("follows a usr-merge /lib -> usr/lib link, relative or absolute", async () => {
    for (const target of ["usr/lib", "/usr/lib"]) {
      const root = newRoot();
      const p = file(root, `usr/lib/modules/${K}/symvers.xz`);
      link(root, "lib", target);
      // Reached through lib/modules first: same file, host path through the link resolved.
      expect(await locateSymvers(K, root)).toBe(p);
    }
  });

  it("gives null for a dangling link and for a link loop", async () => {
    const root = newRoot();
    link(root, `lib/modules/${K}/build`, "/nowhere");
    expect(await locateSymvers(K, root)).toBeNull();
    const loop = newRoot();
    link(loop, `lib/modules/${K}/build`, `/lib/modules/${K}/build`);
    expect(await locateSymvers(K, loop)).toBeNull();
  });

  it("takes the release literally: no globbing, no regex", async () => {
    const root = newRoot();
    file(root, "boot/symvers-6.1.0-9-amd64.gz");
    file(root, "boot/symvers-6.1.0-19-amd64.gz");
    expect(await locateSymvers("6.1.0-*-amd64", root)).toBeNull();
    expect(await locateSymvers("6.1.0-[1]9-amd64", root)).toBeNull();
    expect(await locateSymvers("6.1.0-.-amd64", root)).toBeNull();
    const weird = "6.2.0~rc1_x+[a]*";
    const p = file(root, `boot/symvers-${weird}.gz`);
    expect(await locateSymvers(weird, root)).toBe(p);
  });

  it("refuses releases that are not one path component", async () => {
    for (const bad of ["", ".", "..", "../../etc", "6.1/x"]) {
      await expect(locateSymvers(bad, newRoot())).rejects.toThrow(/invalid kernel release/);
    }
  });

  it("reads what it finds", async () => {
    const root = newRoot();
    file(root, `boot/symvers-${K}.gz`, gzipSync(line("found_me")));
    const t = await readSymvers((await locateSymvers(K, root))!);
    expect(t.entries.get("found_me")?.crc).toBe(0x27e6258d);
  });
});

describe("resolveInRoot", () => {
  it("keeps missing components and clamps ..", async () => {
    const root = newRoot();
    expect(await resolveInRoot(root, "../../a/./b/../c")).toBe(path.join(root, "a/c"));
  });

  it("gives null when a file is used as a directory", async () => {
    const root = newRoot();
    file(root, "f");
    expect(await resolveInRoot(root, "f/x")).toBeNull();
  });
});

describe("listKernels", () => {
  it("lists lib/modules and usr/lib/modules, merged, sorted by version, with symvers or null", async () => {
    const root = newRoot();
    const a = file(root, "boot/symvers-6.1.0-10-amd64.gz");
    dir(root, "lib/modules/6.1.0-10-amd64");
    dir(root, "lib/modules/6.1.0-9-amd64");
    const b = file(root, "usr/lib/modules/6.12.117+deb12-amd64/symvers.xz");
    const c = file(root, "usr/src/linux-headers-6.12.100+deb12-amd64/Module.symvers");
    dir(root, "usr/lib/modules/6.12.100+deb12-amd64");
    dir(root, "lib/modules/6.12.100+deb12-amd64"); // in both: listed once
    file(root, "lib/modules/not-a-kernel.txt"); // a file, not a directory
    link(root, "lib/modules/dangling", "/nowhere");
    expect(await listKernels(root)).toEqual([
      { release: "6.1.0-9-amd64", symvers: null },
      { release: "6.1.0-10-amd64", symvers: a },
      { release: "6.12.100+deb12-amd64", symvers: c },
      { release: "6.12.117+deb12-amd64", symvers: b },
    ]);
  });

  it("lists a usr-merged root once", async () => {
    const root = newRoot();
    link(root, "lib", "/usr/lib");
    const p = file(root, "usr/lib/modules/6.1.0-9-amd64/symvers.gz");
    expect(await listKernels(root)).toEqual([{ release: "6.1.0-9-amd64", symvers: p }]);
  });

  it("gives an empty list for a root without modules", async () => {
    expect(await listKernels(newRoot())).toEqual([]);
  });
});

describe("parseSymversOption", () => {
  it("splits at the first =", () => {
    expect(parseSymversOption("6.1.0-9-amd64=/tmp/a=b/symvers.gz")).toEqual({
      release: "6.1.0-9-amd64",
      file: "/tmp/a=b/symvers.gz",
    });
    expect(parseSymversOption("6.12.117+deb12-amd64=rel.symvers")).toEqual({ release: "6.12.117+deb12-amd64", file: "rel.symvers" });
  });

  it("refuses malformed values", () => {
    for (const bad of ["no-equals", "=file", "6.1=", "../x=file", "a/b=file"]) {
      expect(() => parseSymversOption(bad)).toThrow(SymversOptionError);
    }
  });
});
