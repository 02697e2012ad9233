/**
 * KIS red bills (红字单据) for corrections (docs/changes.md).
 * Evidence (../shared/docs/reversals-and-periods.md §1):
 *  - the red/blue flag is Head.FROB, 1 = 蓝字, -1 = 红字, on the same bill type and koas resource as the blue bill
 *    ([U] xiocode/project-matrix@575772de:app/_definitions/models/server-operations/mom/fix.ts:301-344 posts
 *    pickinglist/create with FTranType 24 + FROB -1; idx:15799733615 proc_OtherIn sets @FROB=-1 for 红字);
 *  - in the database red rows carry negative FQty/Fauxqty (idx:44010856229, idx:15799733615, idx:33603887734);
 *  - the sign a koas *create* expects is NOT settled: project-matrix sends positive quantities with FROB -1.
 * So KIS_RED_QTY_SIGN chooses: "negative" (default: matches the stored form and the emulator's default profile)
 * or "positive" (project-matrix's request form). A red bill only reverses, so a KIS document never mixes signs:
 * a changed bill is corrected by KIS_CHANGE_MODE "reverse_repost" (default: a red bill mirroring the posted
 * bill, then a new blue bill — each one a plain, linkable 红冲 the bookkeeper recognises) or "difference"
 * (a red bill of the decreases and a blue bill of the increases).
 */
import { ConfigError } from "../../errors.ts";
import { choice, isRecord, sumLines, withNote, type ChangeMode, type CorrectionShape, type ImageLine } from "../correction.ts";

const QTY_FIELDS = ["FQty", "Fauxqty", "FAuxQtyMust"] as const;
const round = (n: number) => Math.round(n * 1e6) / 1e6;

export interface KisCorrectionSettings {
  redQtySign: "negative" | "positive";
  changeMode: ChangeMode;
}

export function kisCorrectionSettings(env: Record<string, string | undefined>): KisCorrectionSettings {
  return {
    redQtySign: choice(env, "KIS_RED_QTY_SIGN", ["negative", "positive"], "negative"),
    changeMode: choice(env, "KIS_CHANGE_MODE", ["reverse_repost", "difference"], "reverse_repost"),
  };
}

export function kisCorrectionShape(settings: KisCorrectionSettings): CorrectionShape {
  const entryOf = (payload: Record<string, unknown>): unknown[] => (Array.isArray(payload.Entry) ? payload.Entry : []);
  return {
    system: "kis",
    mixedSigns: false,
    changeMode: settings.changeMode,
    lines(payload) {
      const rob = isRecord(payload.Head) && payload.Head.FROB === -1 ? -1 : 1;
      const out: ImageLine[] = [];
      for (const raw of entryOf(payload)) {
        if (!isRecord(raw) || raw.FItemID === undefined || raw.FItemID === null) continue;
        const { FQty, Fauxqty, FAuxQtyMust, Famount, ...rest } = raw;
        void Fauxqty;
        void FAuxQtyMust;
        // A red bill's lines count against stock whichever sign it was sent with.
        const qty = rob === -1 ? -Math.abs(Number(FQty ?? 0)) : Number(FQty ?? 0);
        const amount = Famount === undefined ? undefined : rob === -1 ? -Math.abs(Number(Famount)) : Number(Famount);
        out.push({ key: String(raw.FItemID), qty, ...(amount !== undefined ? { amount } : {}), rest });
      }
      return sumLines(out);
    },
    head(payload) {
      const { Entry, ...rest } = payload;
      void Entry;
      return structuredClone(rest);
    },
    compose(head, externalKey, lines, kind, note) {
      if (kind === "signed") throw new ConfigError("KIS bills do not mix signs: a correction is a red bill and/or a blue bill");
      const h = isRecord(head.Head) ? head.Head : {};
      const red = kind === "red";
      const sign = red && settings.redQtySign === "negative" ? -1 : 1;
      return {
        ...head,
        Head: { ...h, FBillNo: externalKey, FROB: red ? -1 : 1, Fnote: withNote(h.Fnote, note) },
        Entry: lines.map((l) => {
          const q = round(sign * Math.abs(l.qty));
          const line: Record<string, unknown> = { ...(l.rest ?? {}) };
          for (const f of QTY_FIELDS) line[f] = q;
          if (l.amount !== undefined) line.Famount = round(sign * Math.abs(l.amount));
          return line;
        }),
      };
    },
    dateOf(payload) {
      const d = isRecord(payload.Head) ? payload.Head.Fdate : undefined;
      return typeof d === "string" ? d.slice(0, 10) : undefined;
    },
    redate(payload, date, note) {
      const h = isRecord(payload.Head) ? payload.Head : {};
      const time = typeof h.Fdate === "string" && h.Fdate.length > 10 ? `${h.Fdate[10]}00:00:00` : "T00:00:00";
      return { ...payload, Head: { ...h, Fdate: `${date}${time}`, Fnote: withNote(h.Fnote, note) } };
    },
    describe: () => ({ KIS_RED_QTY_SIGN: settings.redQtySign, KIS_CHANGE_MODE: settings.changeMode, red: "Head.FROB = -1, same FTranType" }),
  };
}
