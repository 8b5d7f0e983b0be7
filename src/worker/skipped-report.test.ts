import { describe, expect, it } from 'vitest';
import { skippedItemsCsv } from './skipped-report.ts';

describe('skipped-items CSV', () => {
  it('has a header and one row per item, quoting commas, quotes and newlines, and defusing formulas', () => {
    const csv = skippedItemsCsv([
      {
        account: 'ann@contoso.com',
        service: 'mail',
        id: 'AAMk1',
        version: 'CQ1',
        path: 'Inbox/A, B',
        name: 'Re: "hello"\nworld',
        size: 1234,
        issue: { source: 'graph', code: 'ErrorItemNotFound', message: 'gone' },
      },
      {
        account: 'ann@contoso.com',
        service: 'onedrive',
        id: '01X',
        version: 'c1',
        path: 'Docs',
        name: '=HYPERLINK("x")',
        size: 5,
        issue: { source: 'internal', code: 'InternalError', message: 'boom' },
      },
    ]);
    const lines = csv.split('\n');
    expect(lines[0]).toBe('account,service,path,name,id,version,size,source,code,message');
    expect(csv).toContain('"Inbox/A, B","Re: ""hello""\nworld",AAMk1,CQ1,1234,graph,ErrorItemNotFound,gone');
    expect(csv).toContain(`"'=HYPERLINK(""x"")"`);
  });
});
