/** spdx-expression-parse ships no types: it throws on anything that is not an SPDX expression. */
declare module 'spdx-expression-parse' {
  export interface LicenseNode {
    license: string;
    plus?: true;
    exception?: string;
  }
  export interface ConjunctionNode {
    left: LicenseNode | ConjunctionNode;
    conjunction: 'and' | 'or';
    right: LicenseNode | ConjunctionNode;
  }
  export default function parse(expression: string): LicenseNode | ConjunctionNode;
}
