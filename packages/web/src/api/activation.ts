/**
 * Names for the parts of the activation view (GET …/activations/:id and the
 * rollout actions' answer) that the activation page passes around.
 */
import type { ActivationView } from './protocol.js';

export type ActivationInfo = ActivationView['activation'];
export type Rollout = NonNullable<ActivationInfo['rollout']>;
