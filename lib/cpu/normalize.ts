// PLACEHOLDER: the CPU reference of these ops is being written.
export {};
