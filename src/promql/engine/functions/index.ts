/** Dispatch of function calls to their implementations. */
import type { Evaluator } from '../evaluator.js';
import { evalInfo } from '../info.js';
import type { CallNode } from '../plan.js';
import { evalVectorSelector } from '../selectors.js';
import type { Value } from '../value.js';
import { evalInstantCall } from './instant.js';
import { labelJoin, labelReplace } from './labels.js';
import { evalRangeCall } from './rangecall.js';

const SORTS = new Set(['sort', 'sort_desc', 'sort_by_label', 'sort_by_label_desc']);

export async function evalCall(ev: Evaluator, n: CallNode): Promise<Value> {
  const first = n.args[0];
  switch (n.name) {
    case 'timestamp':
      // The sample's own timestamp, not the step's: read straight from the selector.
      if (first !== undefined && first.k === 'vs') return evalVectorSelector(ev, first, true);
      break;
    case 'label_replace':
      return labelReplace(ev, n);
    case 'label_join':
      return labelJoin(ev, n);
    case 'info':
      return evalInfo(ev, n);
  }
  const mIdx = n.args.findIndex((a) => a.k === 'ms' || a.k === 'sq');
  if (mIdx >= 0) return evalRangeCall(ev, n, mIdx);
  if (SORTS.has(n.name) && !ev.isInstant) {
    ev.q.annos.warn('sort is ineffective for range queries since results are always ordered by labels', n.pos);
  }
  return evalInstantCall(ev, n);
}
