/**
 * The built-in binary cache's migrations (see tables.ts): 0003_cache creates
 * its tables, 0004_cache_nar_uploads records which cache received a NAR's
 * bytes (so a narinfo can only refer to a NAR its cache was sent).
 */
import type { Kysely, Migration } from 'kysely';

export const cacheMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('caches')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('public', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('secret_key', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('trusted_keys', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('caches_workspace').on('caches').columns(['workspace_id', 'created_at']).execute();
    await db.schema
      .createTable('cache_nars')
      .addColumn('file', 'text', (c) => c.primaryKey())
      .addColumn('storage_key', 'text', (c) => c.notNull())
      .addColumn('compression', 'text', (c) => c.notNull())
      .addColumn('file_size', 'bigint', (c) => c.notNull())
      .addColumn('nar_hash', 'text', (c) => c.notNull())
      .addColumn('nar_size', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('touched_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('cache_paths')
      .addColumn('cache_id', 'text', (c) => c.notNull().references('caches.id').onDelete('cascade'))
      .addColumn('store_hash', 'text', (c) => c.notNull())
      .addColumn('store_path', 'text', (c) => c.notNull())
      .addColumn('nar_file', 'text', (c) => c.notNull())
      .addColumn('nar_size', 'bigint', (c) => c.notNull())
      .addColumn('refs', 'text', (c) => c.notNull())
      .addColumn('narinfo', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('touched_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('cache_paths_pk', ['cache_id', 'store_hash'])
      .execute();
    await db.schema.createIndex('cache_paths_nar').on('cache_paths').column('nar_file').execute();
    await db.schema
      .createTable('cache_pins')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('cache_id', 'text', (c) => c.notNull().references('caches.id').onDelete('cascade'))
      .addColumn('store_path', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('cache_pins_cache').on('cache_pins').column('cache_id').execute();
    await db.schema
      .createTable('token_caches')
      .addColumn('token_id', 'text', (c) => c.primaryKey().references('tokens.id').onDelete('cascade'))
      .addColumn('cache_id', 'text', (c) => c.notNull().references('caches.id').onDelete('cascade'))
      .execute();
  },
  async down(db: Kysely<unknown>) {
    for (const table of ['token_caches', 'cache_pins', 'cache_paths', 'cache_nars', 'caches']) await db.schema.dropTable(table).execute();
  },
};

export const cacheNarUploadsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('cache_nar_uploads')
      .addColumn('cache_id', 'text', (c) => c.notNull().references('caches.id').onDelete('cascade'))
      .addColumn('file', 'text', (c) => c.notNull().references('cache_nars.file').onDelete('cascade'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('cache_nar_uploads_pk', ['cache_id', 'file'])
      .execute();
    await db.schema.createIndex('cache_nar_uploads_file').on('cache_nar_uploads').column('file').execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('cache_nar_uploads').execute();
  },
};
