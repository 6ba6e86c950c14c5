/**
 * Which models serve: {@link dev.switchback.server.models.EngineGenerationService} resolves names in the model store,
 * loads and unloads them off the caller's thread, and keeps the loaded ones within a memory budget.
 */
package dev.switchback.server.models;
