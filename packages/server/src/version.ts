/** Drover's version, as reported by agents and the API. */
export const version = '0.1.0';
