export * from './aurora';
export * from './custom-resources';
export * from './directory';
export * from './handler-function';
export * from './stacks';
export * from './validation';
