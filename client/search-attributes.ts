/** Search attributes set on every run, so runs can be filtered in the Web UI and `run list`. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA_PLUGIN_CODE = defineSearchAttributeKey('SynapsePluginCode', SearchAttributeType.KEYWORD);
export const SA_PLUGIN_VERSION = defineSearchAttributeKey('SynapsePluginVersion', SearchAttributeType.KEYWORD);
export const SA_ACTION = defineSearchAttributeKey('SynapseAction', SearchAttributeType.KEYWORD);
export const SA_CATEGORY = defineSearchAttributeKey('SynapseCategory', SearchAttributeType.KEYWORD);
export const SA_METHOD = defineSearchAttributeKey('SynapseMethod', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [SA_PLUGIN_CODE, SA_PLUGIN_VERSION, SA_ACTION, SA_CATEGORY, SA_METHOD];
