export * from './kms-key-change-workflow';
export * from './kms-key-change-stack';
