import { describe, expect, it } from 'vitest';
import { pacingOf } from './graph-http.ts';

describe('pacingOf', () => {
  it.each([
    ['https://graph.microsoft.com/v1.0/users/Ann@Contoso.com/mailFolders/inbox/messages/delta', { mailbox: 'ann@contoso.com' }],
    ['https://graph.microsoft.com/v1.0/users/1234/calendarView/delta?startDateTime=x', { mailbox: '1234' }],
    ['https://graph.microsoft.com/v1.0/users/1234/drive/root/delta', { resourceUnits: 2 }],
    ['https://graph.microsoft.com/v1.0/drives/b!x/root/delta?token=abc', { resourceUnits: 1 }],
    ['https://graph.microsoft.com/v1.0/sites/root', { resourceUnits: 1 }],
    ['https://graph.microsoft.com/v1.0/users?$top=999', {}],
    ['https://graph.microsoft.com/v1.0/users/1234', {}],
    ['not a url', {}],
  ])('%s', (url, expected) => {
    expect(pacingOf(url)).toEqual(expected);
  });
});
