export * from './dsql-bridge';
export * from './dsql-bridge-stack';
