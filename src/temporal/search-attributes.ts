import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Our search attributes: "all failed runs of release" is one query in the Web UI. */
export const GtKind = defineSearchAttributeKey('GtKind', SearchAttributeType.KEYWORD);
export const GtRig = defineSearchAttributeKey('GtRig', SearchAttributeType.KEYWORD);
export const GtBead = defineSearchAttributeKey('GtBead', SearchAttributeType.KEYWORD);
export const GtConvoy = defineSearchAttributeKey('GtConvoy', SearchAttributeType.KEYWORD);
export const GtFormula = defineSearchAttributeKey('GtFormula', SearchAttributeType.KEYWORD);
export const GtStatus = defineSearchAttributeKey('GtStatus', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_NAMES = ['GtKind', 'GtRig', 'GtBead', 'GtConvoy', 'GtFormula', 'GtStatus'] as const;

/** `--search-attribute` flags for `temporal server start-dev`. */
export function devServerSearchAttributeFlags(): string[] {
  return SEARCH_ATTRIBUTE_NAMES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]);
}
