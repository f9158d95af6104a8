// Types for the parts of elfy kabi uses: its header and section-entry decoders.
declare module "elfy" {
  export interface ElfyHeader {
    class: "32" | "64";
    endian: "lsb" | "msb";
    type: string | undefined;
    machine: string | undefined;
    shoff: number;
    shentsize: number;
    shnum: number;
    shstrndx: number;
  }
  export interface ElfySection {
    name: number;
    type: string | number;
    flags: Record<string, boolean>;
    addr: number;
    off: number;
    size: number;
    link: number;
    info: number;
    addralign: number;
    entsize: number;
  }
  export class Parser {
    parseHeader(buf: Buffer): ElfyHeader;
    parseSection(entry: Buffer, header: ElfyHeader, file: Buffer): ElfySection;
    readUInt16(buf: Buffer, offset: number): number;
    readUInt32(buf: Buffer, offset: number): number;
    readUInt64(buf: Buffer, offset: number): number;
  }
  const elfy: { Parser: typeof Parser; parse(buf: Buffer): unknown };
  export default elfy;
}
