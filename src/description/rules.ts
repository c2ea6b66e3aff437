import type { DescriptionProblem } from '../errors.js';
import type { XmlElement } from './xml.js';
export function semanticProblems(_root: XmlElement): DescriptionProblem[] {
  return [];
}
