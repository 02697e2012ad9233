/**
 * Test fixtures for the T+ emulator, web standards only so Node and workerd tests share them:
 * an ISV RSA key pair made with WebCrypto, a manual clock, and documents built from the shared catalog.
 */
import { SKUS, WAREHOUSES } from "../catalog.ts";

function pem(label: string, der: ArrayBuffer): string {
  const bytes = new Uint8Array(der);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  const b64 = btoa(binary)
    .replace(/(.{64})/g, "$1\n")
    .trim();
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export interface IsvKeyPair {
  /** PKCS#8 PEM, what TPLUS_PRIVATE_KEY holds. */
  privatePem: string;
  /** SPKI PEM for the emulator. */
  publicPem: string;
}

/** A fresh 2048-bit RSA key pair, as Chanjet would issue to an ISV. */
export async function generateIsvKeys(): Promise<IsvKeyPair> {
  const pair = (await crypto.subtle.generateKey({ name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const privateDer = (await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer;
  const publicDer = (await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer;
  return { privatePem: pem("PRIVATE KEY", privateDer), publicPem: pem("PUBLIC KEY", publicDer) };
}

/** A clock the test moves by hand; `sleep` advances it at once and records the wait. */
export function manualClock(start = Date.UTC(2025, 2, 1, 2, 0, 0)) {
  const clock = {
    t: start,
    sleeps: [] as number[],
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.sleeps.push(ms);
      clock.t += ms;
    },
    advance: (ms: number) => {
      clock.t += ms;
    },
  };
  return clock;
}

/** A valid 其他出库单 DTO (ST1024, BusiType 13) for the catalog's SKUs and warehouse 01. */
export function otherDispatchDto(externalCode: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const [a, b] = [SKUS[0]!, SKUS[5]!];
  return {
    ExternalCode: externalCode,
    VoucherDate: "2025-03-01",
    VoucherType: { Code: "ST1024" },
    BusiType: { Code: "13" },
    Warehouse: { Code: WAREHOUSES[0]!.tplusCode },
    Memo: "聚水潭销售出库 店铺0",
    RDRecordDetails: [
      { Inventory: { Code: a.skuId }, BaseQuantity: 2, Price: a.costPrice, Amount: a.costPrice * 2 },
      { Inventory: { Code: b.skuId }, Quantity: 1, Unit: { Name: b.unit } },
    ],
    ...overrides,
  };
}
