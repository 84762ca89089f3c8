/**
 * ESLint for the whole tree: typescript-eslint's strict and stylistic
 * type-checked rules, with type information from each package's own
 * tsconfig (projectService), so rules see the same types `tsc -b` does.
 * Every rule turned off or loosened below says why on its line: only where a
 * rule fights a deliberate pattern of this codebase.
 */
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'test-output/**', 'drover-data/**'] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: {
      parserOptions: {
        // vite.config.ts and this file sit in no tsconfig and get tsconfig.base.json's options; every other file gets its package's tsconfig.
        projectService: { allowDefaultProject: ['*.js', 'packages/web/vite.config.ts'], defaultProject: 'tsconfig.base.json' },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Numbers in messages, command lines and URLs are the norm here; objects, nullish and unions stay forbidden.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `() => resolve()` callbacks and `if (flags.json) return printJson(x)` early exits from void functions are the house style.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true }],
      // `.catch(() => {})` marks a deliberately best-effort cleanup; `async close() {}` is an interface's no-op.
      '@typescript-eslint/no-empty-function': ['error', { allow: ['arrowFunctions', 'asyncFunctions', 'asyncMethods'] }],
      // process.env['NAME'] (index-signature access with brackets) is the codebase's style for environment variables.
      '@typescript-eslint/dot-notation': ['error', { allowIndexSignaturePropertyAccess: true }],
      // Fastify plugins and handlers are async by contract, and async interface methods turn a throw into a rejection.
      '@typescript-eslint/require-await': 'off',
      // Kysely's documented `({ exists, selectFrom }) =>` expression-builder style and Preact hooks' returned objects destructure functions that never use `this`.
      '@typescript-eslint/unbound-method': 'off',
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
    },
  },
  {
    // Library code logs through pino or returns values; only the CLI's output module writes to the terminal.
    files: ['packages/*/src/**/*.{ts,tsx}'],
    ignores: ['packages/cli/src/output.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    // Tests and benchmarks assert what they index into: a missing element fails the test either way.
    files: ['packages/*/test/**/*.ts', 'tests/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      // API tests read JSON response bodies (`res.json.agents[0].name`) whose shape the assertions themselves check;
      // the server validates its responses against the schemas, and src stays free of `any`.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
