/**
 * The learned T+ red form is per voucher kind (issue 16, risk named by adversary 16): a 销货单 flow (BusinessType
 * 15/16) must not take the business type a 其他出库 probe learned (BusiType 14), and a probe of one kind keeps the
 * others'. Real red-form store over the in-memory KV the engine uses.
 */
import { describe, expect, it } from "vitest";
import { readLearnedRedForm, redFormChoice, redFormEnv, storeLearnedRedForm, type LearnedRedForm } from "../../shared/doctor/red-form.ts";
import { MemoryKeyValueStore } from "../../shared/state/memory-kv.ts";

const otherDispatchForm = { redQtySign: "positive" as const, redBusiType: "14", at: Date.UTC(2026, 0, 2) };

describe("the learned T+ red form is kept per voucher kind", () => {
  it("a form learned on otherDispatch applies to otherDispatch, not to saleDelivery", () => {
    const learned: LearnedRedForm = { tplus: otherDispatchForm, tplusByKind: { otherDispatch: otherDispatchForm } };
    expect(redFormEnv({}, learned, "otherDispatch/Create")).toMatchObject({ TPLUS_RED_QTY_SIGN: "positive", TPLUS_RED_BUSI_TYPE: "14" });
    expect(redFormEnv({}, learned, "saleDelivery/Create")).toEqual({});
    expect(redFormChoice("tplus", {}, learned, "saleDelivery/Create").source).toBe("default (no doctor --write-probe result)");
  });

  it("a stored form from before kinds were kept (tplus alone) is the 其他出库 flow's, never a 销货单 flow's", () => {
    const learned: LearnedRedForm = { tplus: otherDispatchForm };
    expect(redFormEnv({}, learned, "otherDispatch/Create")).toMatchObject({ TPLUS_RED_BUSI_TYPE: "14" });
    expect(redFormEnv({}, learned, "saleDelivery/Create")).toEqual({});
  });

  it("a probe of 销货单 keeps the form learned for 其他出库", async () => {
    const kv = new MemoryKeyValueStore();
    await storeLearnedRedForm(kv, { tplus: otherDispatchForm, tplusByKind: { otherDispatch: otherDispatchForm } });
    const sale = { redQtySign: "negative" as const, redBusiType: "16", at: Date.UTC(2026, 0, 3) };
    await storeLearnedRedForm(kv, { tplus: sale, tplusByKind: { saleDelivery: sale } });
    const learned = await readLearnedRedForm(kv);
    expect(redFormEnv({}, learned, "otherDispatch/Create")).toMatchObject({ TPLUS_RED_QTY_SIGN: "positive", TPLUS_RED_BUSI_TYPE: "14" });
    expect(redFormEnv({}, learned, "saleDelivery/Create")).toMatchObject({ TPLUS_RED_QTY_SIGN: "negative", TPLUS_RED_BUSI_TYPE: "16" });
  });
});
