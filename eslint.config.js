import tseslint from 'typescript-eslint';

// The two planes (docs/architecture.md): daemon/data/ is worker-thread code and
// runs with what the main thread hands it (the worker plan, the state table).
// It must not import the main thread's services, nor the code that reads and
// parses the config: a worker never re-reads or re-parses a value.
// Allowed from daemon/config/: schema.ts (the config's types and word lists
// such as ALGORITHMS, no code that parses), and type-only imports of any config
// module (the types of the parsed values a plan carries; erased at run time).
// Not allowed, types included: daemon/control/** (health, metrics, alerts,
// topology, the control socket, ...) and daemon/main.ts.
const CONTROL_PLANE =
  'daemon/data/ is worker-thread code: it must not import main-thread services (daemon/control/, daemon/main.ts); pass what it needs in the worker plan or the state table';
const CONFIG_LOADING =
  'daemon/data/ must not load or parse config: it receives parsed values in its plan (only daemon/config/schema.ts, and types of other config modules, are allowed)';
const dataPlaneImports = {
  patterns: [
    { regex: '^(\\.\\./)+(control(/|$)|main\\.js$)', message: CONTROL_PLANE },
    { regex: '^(\\.\\./)+config/(?!schema\\.js$)', allowTypeImports: true, message: CONFIG_LOADING },
  ],
  paths: [
    { name: 'prom-client', message: `${CONTROL_PLANE} (metrics are read from the table by the main thread)` },
    { name: 'toml', message: CONFIG_LOADING },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.node/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['daemon/data/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', dataPlaneImports] },
  },
);
